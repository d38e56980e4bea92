"""Export a trained model to ONNX and run it in onnxruntime, outside fastnn.

``model.to_onnx(path)`` writes a standard ONNX graph (Gemm + activation per layer, a
dynamic batch dimension); any ONNX runtime can then serve the model. The script trains a
digits classifier, exports it, runs the file in onnxruntime and checks that the outputs
match ``model.predict``.

    python examples/onnx_export.py [model.onnx] [--fast]

The path defaults to a temporary folder. Needs the ``onnx`` extra and onnxruntime.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

import fastnn as fn

try:
    import onnx  # noqa: F401  (what model.to_onnx writes with)
    import onnxruntime
except ImportError as missing:
    sys.exit(f"onnx_export.py needs {missing.name}: pip install 'fastnn[onnx]' onnxruntime")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, help="where to write the .onnx file")
    parser.add_argument(
        "--fast",
        action="store_true",
        default=os.environ.get("FASTNN_EXAMPLES_FAST") == "1",
        help="a quick run (also FASTNN_EXAMPLES_FAST=1)",
    )
    args = parser.parse_args(argv)
    path = args.path or Path(tempfile.mkdtemp(prefix="fastnn-")) / "digits.onnx"

    (X, y), (X_test, y_test) = fn.datasets.load_default()
    model = fn.Model([fn.Dense(64, "gelu"), fn.Dropout(0.1), fn.Dense(10, "softmax")], seed=0)
    model.compile("cross_entropy", fn.optimizers.Adam(lr=2e-3), metrics=["accuracy"])
    model.fit(X, y, epochs=5 if args.fast else 40, batch_size=32, verbose=0)

    model.to_onnx(path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(None, {"input": X_test})
    difference = float(np.abs(probabilities - model.predict(X_test)).max())
    accuracy = float((probabilities.argmax(axis=1) == y_test).mean())
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    print(
        f"onnxruntime: test accuracy {accuracy:.3f}; largest difference from "
        f"model.predict {difference:.1e}"
    )
    return 0 if difference < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
