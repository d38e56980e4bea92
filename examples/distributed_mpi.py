"""Data-parallel training over MPI: the one change to a single-process script.

The optimizer is wrapped by ``fastnn.distributed.DistributedOptimizer``; everything else
is the single-process script. Started with an MPI launcher, each step's global batch is
split over the ranks and their gradients summed by MPI Allreduce, so N ranks train the
model one process would; rank 0 prints and writes the checkpoint and the model.

    mpiexec -n 2 python examples/distributed_mpi.py [--fast] [--save model.fnn]
    python examples/distributed_mpi.py            # one process: plain fastnn training

Needs the ``mpi`` extra (pip install 'fastnn[mpi]').
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import fastnn as fn
import fastnn.distributed as fnd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fast", action="store_true", default=os.environ.get("FASTNN_EXAMPLES_FAST") == "1"
    )
    parser.add_argument("--save", default=None, help="write the trained model here (rank 0)")
    args = parser.parse_args(argv)

    (X, y), (X_test, y_test) = fn.datasets.load_default()  # every rank: the same rows
    model = fn.Model(
        [fn.Dense(64, "relu"), fn.Dropout(0.1), fn.Dense(10, "softmax")],
        input_dim=X.shape[1],
        seed=0,  # the same seed on every rank: the same initial model everywhere
    )
    model.compile(
        loss="cross_entropy",
        optimizer=fnd.DistributedOptimizer(fn.optimizers.Adam(2e-3)),  # the one change
        metrics=["accuracy"],
    )
    folder = Path(tempfile.mkdtemp()) if fnd.rank() == 0 else None
    checkpoint = fn.callbacks.ModelCheckpoint(str(folder or ".") + "/ckpt.fnn", monitor="loss")
    epochs = 5 if args.fast else 40
    history = model.fit(
        X,
        y,
        epochs=epochs,
        batch_size=64,
        verbose=0,
        callbacks=[checkpoint],  # global batch
    )
    result = model.evaluate(X_test, y_test)  # the same weights, so the same on every rank
    if fnd.rank() == 0:
        print(
            f"{fnd.size()} rank(s): training loss {history.history['loss'][-1]:.4f}, "
            f"test accuracy {result['accuracy']:.4f}"
        )
    if args.save:
        model.save(args.save)  # rank 0 writes; the other ranks skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
