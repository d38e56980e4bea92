# TEMPORARY stand-in until the gemm branch lands its runtime layer (same API).
from ._fastnn cimport (
    fnn_get_num_threads,
    fnn_openmp_enabled,
    fnn_set_num_threads,
    fnn_set_simd_level,
    fnn_simd_detected,
    fnn_simd_level,
)

SIMD_LEVELS = ("scalar", "avx2", "avx512")


def simd_detected():
    return SIMD_LEVELS[fnn_simd_detected()]


def simd_level():
    return SIMD_LEVELS[fnn_simd_level()]


def set_simd_level(level):
    code = SIMD_LEVELS.index(level) if isinstance(level, str) else int(level)
    return SIMD_LEVELS[fnn_set_simd_level(code)]


def openmp_enabled():
    return bool(fnn_openmp_enabled())


def set_num_threads(n):
    fnn_set_num_threads(int(n))


def get_num_threads():
    return fnn_get_num_threads()
