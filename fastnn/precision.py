"""Mixed precision: the number format of a model's matrix products.

``fn.Model(layers, precision="bf16")`` (Keras's policy name ``"mixed_bfloat16"`` and
``"bfloat16"`` are accepted too) trains and predicts the way PyTorch's
``torch.autocast("cpu", dtype=torch.bfloat16)`` runs a linear layer: both inputs of every
matrix product -- forward X W, backward dZ W^T and X^T dZ -- are rounded to bfloat16, and
their products are summed in float32. Everything else stays float32: the weights (the
master copy the optimizer updates), the optimizer's state, the bias, the activations and
their derivatives, the loss. ``precision="float32"`` (the default) is plain float32.

On CPUs with AVX512-BF16 or AMX the products run on those instructions; on every other
CPU the float32 kernels multiply bf16-rounded copies, which gives the same results up to
the order of the float32 sums (``fn.info()["bf16"]`` names the level in use,
``FASTNN_BF16=portable|avx512_bf16|amx`` forces a lower one).

The policy belongs to the model, as its dtype and backend do: it is saved with it (the
file keeps float32 weights), and ``model.precision = ...`` switches it at any time, e.g.
to train in float32 and predict in bf16. It needs a float32 model.
"""

from __future__ import annotations

import numpy as np

from .backends.spec import Precision

__all__ = ["NAMES", "check_precision", "code"]

# Accepted names -> the canonical one Model.precision reports.
NAMES = {
    "float32": "float32",
    "fp32": "float32",
    "bf16": "bf16",
    "bfloat16": "bf16",
    "mixed_bfloat16": "bf16",
}


def check_precision(value, dtype) -> str:
    """The canonical name ("float32" or "bf16") of ``value``, checked against the model's
    dtype; ValueError/TypeError naming what was given otherwise."""
    if value is None:
        return "float32"
    if not isinstance(value, str):
        raise TypeError(
            f"precision must be a string such as 'bf16' or 'float32'; got {type(value).__name__}"
        )
    key = value.strip().lower()
    if key in ("mixed_float16", "float16", "fp16", "half"):
        raise ValueError(
            f"precision {value!r}: float16 products are not supported on the CPU; use 'bf16'"
        )
    if key not in NAMES:
        raise ValueError(f"unknown precision {value!r}; expected one of {', '.join(NAMES)}")
    name = NAMES[key]
    if name == "bf16" and np.dtype(dtype) != np.float32:
        raise ValueError(
            f"precision {value!r} needs a float32 model (bf16 products, float32 weights); "
            f"this model's dtype is {np.dtype(dtype)}"
        )
    return name


def code(name: str) -> Precision:
    """The kernels' code (spec.Precision) of a canonical name."""
    return Precision.BF16 if name == "bf16" else Precision.FLOAT32
