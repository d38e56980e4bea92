"""The process environment every benchmark runs in, in one place.

OpenBLAS reads ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` once, when the library
loads (as NumPy is imported); where they are set they can pin it to a slower kernel or
a wrong cache size (the project machines set them, and they halve NumPy's GEMM speed).
A benchmark must measure NumPy at its best, so they are removed from the benchmark's
own processes only, never from the user's shell, and the kernel OpenBLAS then chose is
reported (threadpoolctl).

* ``worker_environment(threads)``: the environment of one ``fastnn bench`` peer process;
* ``unpin_openblas()``: for a benchmark that runs in the current process (the
  pytest-benchmark suites, bench/step_profile.py): removes the variables, and where
  NumPy is loaded already re-executes the process without them;
* ``blas_libraries()``: what OpenBLAS / MKL / OpenMP this process loaded, with the kernel.

Nothing here imports NumPy (it must be importable before OpenBLAS loads).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

OPENBLAS_PINNING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# Set (to anything) in a worker's environment: PyTorch's bf16 peer is measured even on a
# CPU where its products would be emulated (fastnn bench sets it when --peers names it).
EMULATED_BF16 = "FASTNN_BENCH_EMULATED_BF16"


def unpinned(env: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``env`` without the variables that pin OpenBLAS's kernel."""
    return {k: v for k, v in env.items() if k not in OPENBLAS_PINNING}


def unpin_openblas() -> None:
    """Run this process without the OpenBLAS pinning. Nothing happens where it is not
    set; otherwise the variables are removed, and if NumPy (so OpenBLAS) is loaded
    already, which it is once fastnn is imported, the process starts again in place
    (``os.execve`` with the same command line) so that OpenBLAS reads the clean
    environment as it loads. Callers must not have started threads or output capture."""
    if not any(name in os.environ for name in OPENBLAS_PINNING):
        return
    if "numpy" not in sys.modules:
        for name in OPENBLAS_PINNING:
            os.environ.pop(name, None)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *_interpreter_arguments()], unpinned(os.environ))


def _interpreter_arguments() -> list[str]:
    """The arguments this interpreter was started with (``-m pytest bench/``, ...)."""
    if hasattr(sys, "orig_argv"):  # Python >= 3.10: exactly what was typed
        return sys.orig_argv[1:]
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None:  # started with -m
        return ["-m", spec.name.removesuffix(".__main__"), *sys.argv[1:]]
    return sys.argv


def worker_environment(threads: int) -> dict[str, str]:
    """The environment of a ``fastnn bench`` worker limited to ``threads`` threads."""
    env = unpinned(os.environ)
    env.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
    env["JAX_PLATFORMS"] = "cpu"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"  # XLA's informational chatter
    # the workers import this very fastnn, installed or not
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


def blas_libraries() -> list[dict]:
    """The BLAS / OpenMP libraries loaded in this process as threadpoolctl sees them
    (``architecture`` is the kernel OpenBLAS chose); [] without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("internal_api", "version", "architecture", "num_threads", "threading_layer")
    return [{k: lib.get(k) for k in keys if lib.get(k) is not None} for lib in threadpool_info()]


def describe_openblas(libraries: list[dict]) -> str:
    """ "OpenBLAS 0.3.31 kernel Haswell" for the first OpenBLAS in ``libraries``, or ""."""
    for lib in libraries:
        if lib.get("internal_api") == "openblas":
            return f"OpenBLAS {lib.get('version')} kernel {lib.get('architecture')}"
    return ""
