# The argument checks every entry point shares: each array is checked once (type, dtype,
# dimensions, contiguity, alignment, shape, writability), and a failure raises
# TypeError/ValueError naming the argument, so the C layer never sees an array it cannot
# handle.

from .spec import Act, Loss, Metric, Opt

cdef object _MASK64 = (1 << 64) - 1
# How many codes of each kind there are (spec.py; tests/test_codes.py checks that
# fastnn.h numbers them alike): the one place the range checks below take them from.
cdef int _N_ACTS = len(Act), _N_LOSSES = len(Loss), _N_METRICS = len(Metric), _N_OPTS = len(Opt)


cdef inline str _typenum_name(int typenum):
    return "float64" if typenum == cnp.NPY_FLOAT64 else "float32"


cdef inline tuple _shape(cnp.ndarray a):
    return (<object>a).shape


cdef inline void *_data(cnp.ndarray a):
    return cnp.PyArray_DATA(a)


cdef inline uint64_t _u64(object value):
    """A Python int as uint64 modulo 2^64 (as spec.dropout_key's arithmetic)."""
    if 0 <= value <= _MASK64:
        return <uint64_t>value
    return <uint64_t>(value & _MASK64)


cdef int _float_typenum(cnp.ndarray a, str name) except -1:
    cdef int typenum = cnp.PyArray_TYPE(a)
    if typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64:
        raise TypeError(f"{name} must have dtype float32 or float64, got {(<object>a).dtype}")
    return typenum


cdef int _check(cnp.ndarray a, str name, int typenum, int ndim, bint writable=False) except -1:
    """a has dtype `typenum`, `ndim` dimensions, C order and aligned data (and is
    writable if asked)."""
    if cnp.PyArray_TYPE(a) != typenum:
        raise TypeError(f"{name} must have dtype {_typenum_name(typenum)}, got {(<object>a).dtype}")
    if cnp.PyArray_NDIM(a) != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {_shape(a)}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError(f"{name} must be C-contiguous")
    if not cnp.PyArray_ISALIGNED(a):
        raise ValueError(f"{name} must be aligned (its data starts at an odd address)")
    if writable and not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"{name} must be writable")
    return 0


cdef int _check_rows(cnp.ndarray a, str name, int typenum, Py_ssize_t cols,
                     Py_ssize_t max_rows) except -1:
    """a is a C-order (n, cols) array of `typenum` with n <= max_rows (max_rows < 0: any)."""
    _check(a, name, typenum, 2)
    if a.shape[1] != cols:
        raise ValueError(f"{name} must have {cols} columns, got shape {_shape(a)}")
    if max_rows >= 0 and a.shape[0] > max_rows:
        raise ValueError(f"{name} has {a.shape[0]} rows, more than the workspace's batch "
                         f"of {max_rows}")
    return 0


cdef int _check_same(cnp.ndarray a, str name, cnp.ndarray like, str like_name,
                     bint writable=False) except -1:
    """a has like's dtype and shape, C order."""
    _check(a, name, cnp.PyArray_TYPE(like), cnp.PyArray_NDIM(like), writable)
    cdef int i
    for i in range(cnp.PyArray_NDIM(a)):
        if a.shape[i] != like.shape[i]:
            raise ValueError(f"{name} must have the shape of {like_name} {_shape(like)}, "
                             f"got {_shape(a)}")
    return 0


cdef cnp.ndarray _array(object a, str name):
    if not isinstance(a, cnp.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    return <cnp.ndarray>a


cdef int _targets(cnp.ndarray y, int typenum, Py_ssize_t n, Py_ssize_t k,
                  int64_t **labels, void **targets) except -1:
    """Labels (int64, (n,)) or targets ((n, k), or (n,) when k == 1) for the C loss."""
    if cnp.PyArray_ISINTEGER(y):
        if cnp.PyArray_TYPE(y) != cnp.NPY_INT64:
            raise TypeError(f"y: integer labels must be int64, got {y.dtype}")
        _check(y, "y", cnp.NPY_INT64, 1)
        if y.shape[0] != n:
            raise ValueError(f"y has {y.shape[0]} labels for {n} rows")
        labels[0] = <int64_t *>_data(y)
        return 0
    if cnp.PyArray_NDIM(y) == 1 and k == 1:
        _check(y, "y", typenum, 1)
    else:
        _check_rows(y, "y", typenum, k, -1)
    if y.shape[0] != n:
        raise ValueError(f"y has {y.shape[0]} rows for {n} rows of output")
    targets[0] = _data(y)
    return 0


cdef void *_weights(sample_weight, int typenum, Py_ssize_t n) except? NULL:
    if sample_weight is None:
        return NULL
    if not isinstance(sample_weight, np.ndarray):
        raise TypeError("sample_weight must be a numpy.ndarray or None, got "
                        f"{type(sample_weight).__name__}")
    _check(sample_weight, "sample_weight", typenum, 1)
    if sample_weight.shape[0] != n:
        raise ValueError(f"sample_weight has {sample_weight.shape[0]} values for {n} rows")
    return _data(sample_weight)


cdef int _check_code(int code, int count, str what) except -1:
    if not 0 <= code < count:
        raise ValueError(f"unknown {what} code {code}")
    return 0


cdef inline int _check_act(int act) except -1:
    return _check_code(act, _N_ACTS, "activation")


cdef int _check_segments(cnp.ndarray segments, Py_ssize_t size) except -1:
    """segments: int64 (s, 2), increasing non-overlapping [start, stop) within size."""
    cdef Py_ssize_t s, count
    cdef int64_t *seg
    cdef int64_t last = 0
    _check(segments, "segments", cnp.NPY_INT64, 2)
    if segments.shape[1] != 2:
        raise ValueError(f"segments must have shape (s, 2), got {_shape(segments)}")
    count = segments.shape[0]
    seg = <int64_t *>_data(segments)
    for s in range(count):
        if not (last <= seg[2 * s] <= seg[2 * s + 1] <= size):
            raise ValueError("segments must be increasing, non-overlapping [start, stop) "
                             f"ranges within the {size} parameters; got {segments.tolist()}")
        last = seg[2 * s + 1]
    return 0


cdef int64_t _check_t(t) except -1:
    if t < 1:
        raise ValueError(f"t counts steps from 1, got {t}")
    return t


# ---------------------------------------------------------------- the C status codes

cdef object _loss_status(int status):
    if status == -1:
        raise ValueError("y: a class label is outside [0, number of outputs)")
    if status == -2:
        raise ValueError("unknown loss code")
    if status == -3:
        raise ValueError("the last layer must be Dense to compute a loss")
    if status == -4:
        raise ValueError("rows: an index is outside the rows of x")
    return None


# ---------------------------------------------------------------- strided matrices (GEMM)

cdef cnp.ndarray _matrix(object x, str name, int typenum):
    """x as a 2-D array of the call's dtype, aligned, whose strides are whole elements (a
    copy only in the odd case that it is not)."""
    cdef cnp.ndarray arr = _array(x, name)
    if cnp.PyArray_TYPE(arr) != typenum:
        raise TypeError(f"{name} has dtype {arr.dtype}, expected {_typenum_name(typenum)} (as a)")
    if cnp.PyArray_NDIM(arr) != 2:
        raise ValueError(f"{name} must be 2-D, got {x.ndim}-D with shape {x.shape}")
    cdef cnp.npy_intp *st = cnp.PyArray_STRIDES(arr)
    cdef Py_ssize_t size = cnp.PyArray_ITEMSIZE(arr)
    if st[0] % size or st[1] % size or not cnp.PyArray_ISALIGNED(arr):
        arr = np.array(arr, order="C")  # a new array: aligned, whatever arr was
    return arr


cdef cnp.ndarray _output(object x, str name, int typenum, Py_ssize_t m, Py_ssize_t n):
    """A writeable (m, n) array of the call's dtype with contiguous rows: checked, never
    copied (results must land in it)."""
    cdef cnp.ndarray arr = _array(x, name)
    if cnp.PyArray_TYPE(arr) != typenum:
        raise TypeError(f"{name} has dtype {arr.dtype}, expected {_typenum_name(typenum)}")
    if cnp.PyArray_NDIM(arr) != 2 or arr.shape[0] != m or arr.shape[1] != n:
        raise ValueError(f"{name} has shape {x.shape}, expected {(m, n)}")
    if not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError(f"{name} is read-only")
    if not cnp.PyArray_ISALIGNED(arr):
        raise ValueError(f"{name} must be aligned (its data starts at an odd address)")
    cdef cnp.npy_intp *st = cnp.PyArray_STRIDES(arr)
    cdef Py_ssize_t size = cnp.PyArray_ITEMSIZE(arr)
    if m and n and ((n > 1 and st[1] != size) or (m > 1 and st[0] % size)):
        raise ValueError(f"{name} must have contiguous rows (unit column stride), "
                         f"got strides {x.strides}")
    return arr


cdef bint _span(cnp.ndarray x, char **lo, char **hi):
    """The bytes [lo, hi) a 2-D array's elements lie in; False when it has none."""
    if cnp.PyArray_SIZE(x) == 0:
        return False
    cdef cnp.npy_intp extent
    lo[0] = hi[0] = <char *>cnp.PyArray_DATA(x)
    for d in range(2):
        extent = (cnp.PyArray_DIMS(x)[d] - 1) * cnp.PyArray_STRIDES(x)[d]
        if extent < 0:
            lo[0] += extent
        else:
            hi[0] += extent
    hi[0] += cnp.PyArray_ITEMSIZE(x)
    return True


cdef bint _overlap(cnp.ndarray x, cnp.ndarray y):
    """Whether the memory spans of two 2-D arrays intersect (the bounds test of
    np.may_share_memory, without its Python call)."""
    cdef char *lo_x
    cdef char *hi_x
    cdef char *lo_y
    cdef char *hi_y
    if not _span(x, &lo_x, &hi_x) or not _span(y, &lo_y, &hi_y):
        return False
    return lo_x < hi_y and lo_y < hi_x


cdef double _denominator(value) except -1:
    """A loss's denominator: a finite number > 0."""
    cdef double d = value
    if not d > 0 or d == float("inf"):
        raise ValueError(f"denominator must be a finite number > 0, got {value!r}")
    return d
