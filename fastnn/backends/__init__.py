"""Numeric backends: the NumPy reference ("numpy") and the C kernels ("native").

``get(name)`` returns a backend object implementing ``base.Backend``. The default is
native when its compiled module loads, else numpy (with a warning, once).
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator

from .reference import ReferenceBackend

NAMES = ("native", "numpy")
_reference = ReferenceBackend()
_state = threading.local()
_global = {"default": None, "native": None}


def _load_native():
    backend = _global["native"]  # the import statement costs ~0.5 µs per predict call
    if backend is not None:
        return backend
    from . import native  # imported lazily: a failed build must not break `import fastnn`

    if not native.AVAILABLE:
        raise RuntimeError(
            "the native backend is not available (its compiled module failed to load: "
            f"{native.IMPORT_ERROR}); reinstall fastnn with a C compiler, or use "
            "backend='numpy'"
        )
    _global["native"] = native.BACKEND
    return native.BACKEND


def native_available() -> bool:
    try:
        _load_native()
    except (RuntimeError, ImportError):
        return False
    return True


def check_name(name) -> str:
    if not isinstance(name, str):
        raise TypeError(f"backend must be 'native' or 'numpy'; got {name!r}")
    key = name.strip().lower()
    if key == "reference":
        key = "numpy"
    if key not in NAMES:
        raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(NAMES)}")
    return key


def get(name: str | None = None):
    """The backend called ``name``, or the current default one."""
    return resolve(check_name(name) if name is not None else None)


def resolve(key: str | None):
    """get() for a name already checked by check_name (or None): the per-call path."""
    if key is None:
        key = default_name()
    return _reference if key == "numpy" else _load_native()


def default_name() -> str:
    """The backend used by models that were not given one: the innermost
    ``with backend(...)`` block of this thread, else set_backend's, else native."""
    stack = getattr(_state, "stack", None)
    if stack:
        return stack[-1]
    if _global["default"] is None:
        if native_available():
            _global["default"] = "native"
        else:
            warnings.warn(
                "fastnn's native backend is not available; using the NumPy reference backend",
                RuntimeWarning,
                stacklevel=3,
            )
            _global["default"] = "numpy"
    return _global["default"]


def set_backend(name: str) -> None:
    """Set the default backend for models created without one."""
    key = check_name(name)
    get(key)  # fail now if it cannot load
    _global["default"] = key


@contextlib.contextmanager
def backend(name: str) -> Iterator[str]:
    """``with fn.backend("numpy"): ...``: models without a backend of their own use it."""
    key = check_name(name)
    get(key)
    stack = getattr(_state, "stack", None)
    if stack is None:
        stack = _state.stack = []
    stack.append(key)
    try:
        yield key
    finally:
        stack.pop()
