# bf16 mixed precision (csrc/gemm/gemm_bf16.c): the level in use and the conversions.
# gemm(..., precision="bf16") in _native_gemm.pxi runs the products.

from libc.stdint cimport uint16_t

from .spec import Precision

from ._fastnn cimport (
    fnn_bf16_detected,
    fnn_bf16_level,
    fnn_bf16_to_f32,
    fnn_f32_to_bf16,
    fnn_round_bf16_f32,
    fnn_set_bf16_level,
)

BF16_LEVELS = ("portable", "avx512_bf16", "amx")
PRECISIONS = ("float32", "bf16")


cdef bint _bf16_precision(object precision) except -1:
    """True for "bf16" (or Precision.BF16), False for "float32" (Precision.FLOAT32)."""
    if isinstance(precision, Precision):
        return precision == Precision.BF16
    if precision == "bf16":
        return True
    if precision == "float32":
        return False
    raise ValueError(f"unknown precision {precision!r}; expected one of {PRECISIONS}")


def bf16_detected():
    """Name of the best bf16 level this CPU (and OS) supports: see BF16_LEVELS."""
    return BF16_LEVELS[fnn_bf16_detected()]


def bf16_level():
    """Name of the bf16 level the products use now (portable while the SIMD level is
    forced below avx512)."""
    return BF16_LEVELS[fnn_bf16_level()]


def set_bf16_level(level):
    """Use bf16 level ``level`` (a name from BF16_LEVELS or its index); a level above what
    the CPU supports is clamped down. Returns the name of the level now in effect."""
    if isinstance(level, str):
        name = level.strip().lower()
        if name not in BF16_LEVELS:
            raise ValueError(f"unknown bf16 level {level!r}; expected one of {BF16_LEVELS}")
        code = BF16_LEVELS.index(name)
    elif isinstance(level, (int, np.integer)) and not isinstance(level, bool):
        code = int(level)
        if not 0 <= code < len(BF16_LEVELS):
            raise ValueError(f"bf16 level must be 0..{len(BF16_LEVELS) - 1}, got {code}")
    else:
        raise TypeError(f"bf16 level must be a str or int, got {type(level).__name__}")
    return BF16_LEVELS[fnn_set_bf16_level(code)]


cdef cnp.ndarray _float32_array(object x, str name):
    if not isinstance(x, cnp.ndarray) or cnp.PyArray_TYPE(<cnp.ndarray>x) != cnp.NPY_FLOAT32:
        raise TypeError(f"{name} must be a numpy.ndarray of float32")
    return np.ascontiguousarray(x)


def round_bf16(x):
    """x rounded to bf16 (to nearest, ties to even; NaN stays NaN, subnormals become
    zeros), as float32: a new array of x's shape."""
    cdef cnp.ndarray src = _float32_array(x, "x")
    cdef cnp.ndarray out = np.empty_like(src)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(src)
    with nogil:
        fnn_round_bf16_f32(n, <const float *>cnp.PyArray_DATA(src),
                           <float *>cnp.PyArray_DATA(out))
    return out


def bf16_bits(x):
    """The bf16 bits (uint16) of x rounded as round_bf16 does: a new array of x's shape."""
    cdef cnp.ndarray src = _float32_array(x, "x")
    cdef cnp.ndarray out = np.empty((<object>src).shape, dtype=np.uint16)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(src)
    with nogil:
        fnn_f32_to_bf16(n, <const float *>cnp.PyArray_DATA(src),
                        <uint16_t *>cnp.PyArray_DATA(out))
    return out


def bf16_to_float32(bits):
    """float32 values of bf16 bits (uint16): exact."""
    if not isinstance(bits, cnp.ndarray) or bits.dtype != np.uint16:
        raise TypeError("bits must be a numpy.ndarray of uint16")
    cdef cnp.ndarray src = np.ascontiguousarray(bits)
    cdef cnp.ndarray out = np.empty((<object>src).shape, dtype=np.float32)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(src)
    with nogil:
        fnn_bf16_to_f32(n, <const uint16_t *>cnp.PyArray_DATA(src),
                        <float *>cnp.PyArray_DATA(out))
    return out
