# The runtime layer: the SIMD level the kernels use and the thread count (csrc/runtime/runtime.c).

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
    """Name of the best SIMD level this CPU supports: "scalar", "avx2" or "avx512"."""
    return SIMD_LEVELS[fnn_simd_detected()]


def simd_level():
    """Name of the SIMD level the kernels use now."""
    return SIMD_LEVELS[fnn_simd_level()]


def set_simd_level(level):
    """Use SIMD level ``level`` (a name from SIMD_LEVELS or its index); a level above what
    the CPU supports is clamped down. Returns the name of the level now in effect."""
    if isinstance(level, str):
        name = level.strip().lower()
        if name not in SIMD_LEVELS:
            raise ValueError(f"unknown SIMD level {level!r}; expected one of {SIMD_LEVELS}")
        code = SIMD_LEVELS.index(name)
    elif isinstance(level, (int, np.integer)) and not isinstance(level, bool):
        code = int(level)
        if not 0 <= code < len(SIMD_LEVELS):
            raise ValueError(f"SIMD level must be 0..{len(SIMD_LEVELS) - 1}, got {code}")
    else:
        raise TypeError(f"SIMD level must be a str or int, got {type(level).__name__}")
    return SIMD_LEVELS[fnn_set_simd_level(code)]


def openmp_enabled():
    """Whether the kernels were built with OpenMP (else they run on one thread)."""
    return bool(fnn_openmp_enabled())


def set_num_threads(n):
    """Threads the kernels use from now on (an int >= 1; ignored without OpenMP)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"number of threads must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"number of threads must be >= 1, got {n}")
    fnn_set_num_threads(<int>min(int(n), 1 << 16))


def get_num_threads():
    """Threads the kernels use: as set, else OpenMP's default (OMP_NUM_THREADS, the CPU
    affinity mask); always 1 without OpenMP."""
    return fnn_get_num_threads()
