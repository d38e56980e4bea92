# The GEMM (csrc/gemm/): out = epilogue(alpha * op(a) @ op(b) + beta * out).

cimport numpy as cnp
import numpy as np

from ._fastnn cimport (
    FNN_EPI_ACT_GRAD,
    FNN_EPI_FORWARD,
    FNN_EPI_NONE,
    fnn_dgemm,
    fnn_epilogue,
    fnn_sgemm,
    fnn_sgemm_bf16,
)

from .spec import Act

cnp.import_array()

EPILOGUE_MODES = ("none", "forward", "act_grad")
cdef int _N_ACTS = len(Act)


cdef str _dtype_name(int typenum):
    return "float32" if typenum == cnp.NPY_FLOAT32 else "float64"


cdef cnp.ndarray _matrix(object x, str name, int typenum):
    """x as a 2-D array of the call's dtype, aligned, whose strides are whole elements (a
    copy only in the odd case that it is not)."""
    if not isinstance(x, cnp.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>x
    if cnp.PyArray_TYPE(arr) != typenum:
        raise TypeError(f"{name} has dtype {arr.dtype}, expected {_dtype_name(typenum)} (as a)")
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
    if not isinstance(x, cnp.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>x
    if cnp.PyArray_TYPE(arr) != typenum:
        raise TypeError(f"{name} has dtype {arr.dtype}, expected {_dtype_name(typenum)}")
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


cdef int _act_code(object act) except -1:
    """An elementwise activation's code, from its name or its fastnn Act code."""
    if isinstance(act, int) and not isinstance(act, bool):
        if 0 <= act < _N_ACTS:
            return act
        raise ValueError(f"unknown activation code {act!r}")
    if isinstance(act, str):
        try:
            return int(Act[act.strip().upper()])
        except KeyError:
            raise ValueError(f"unknown activation {act!r}") from None
    raise ValueError(f"unknown activation {act!r}")


cdef int _mode_code(object mode, int act, object bias, object z, object aux) except -1:
    """The epilogue mode, inferred from the other arguments when None."""
    if mode is None:
        if aux is not None:
            return FNN_EPI_ACT_GRAD
        if bias is not None or z is not None or act != Act.LINEAR:
            return FNN_EPI_FORWARD
        return FNN_EPI_NONE
    if isinstance(mode, str) and mode in EPILOGUE_MODES:
        return EPILOGUE_MODES.index(mode)
    if isinstance(mode, (int, np.integer)) and 0 <= mode < len(EPILOGUE_MODES):
        return int(mode)
    raise ValueError(f"unknown epilogue mode {mode!r}; expected one of {EPILOGUE_MODES}")


def gemm(a, b, *, bint trans_a=False, bint trans_b=False, double alpha=1.0,
         double beta=0.0, out=None, bias=None, act=0, double act_param=0.0, z=None,
         aux=None, mode=None, precision="float32"):
    """out = epilogue(alpha * op(a) @ op(b) + beta * out), op transposing when asked.

    ``a`` and ``b`` are 2-D float32 or float64 arrays of one dtype with any strides
    (Fortran order, negative or non-contiguous views: no copy). ``out`` (m, n) needs
    contiguous rows; it is allocated when None (then beta must be 0) and returned.
    The epilogue ``mode`` ("none", "forward", "act_grad"; inferred when None):

    * forward:  t = alpha*op(a)@op(b) + beta*out + bias; z[...] = t if z is given;
      out = act(t) for an elementwise activation (name or fastnn Act code).
    * act_grad: out = (alpha*op(a)@op(b) + beta*out) * act'(aux), aux being the
      activation's output (its input z for GELU), shape (m, n).

    ``precision="bf16"`` (float32 only) rounds a and b to bfloat16 and sums the exact
    products in float (fnn_sgemm_bf16, at the bf16 level in use); C and the epilogue
    stay float32. The GIL is released during the product; threads as set by
    set_num_threads().
    """
    if not isinstance(a, cnp.ndarray):
        raise TypeError(f"a must be a numpy.ndarray, got {type(a).__name__}")
    cdef int typenum = cnp.PyArray_TYPE(<cnp.ndarray>a)
    if typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64:
        raise TypeError(f"a has dtype {a.dtype}, expected float32 or float64")
    cdef bint bf16 = _bf16_precision(precision)
    if bf16 and typenum != cnp.NPY_FLOAT32:
        raise TypeError(f"precision='bf16' multiplies float32 operands; a has dtype {a.dtype}")
    cdef cnp.ndarray A = _matrix(a, "a", typenum)
    cdef cnp.ndarray B = _matrix(b, "b", typenum)
    cdef Py_ssize_t itemsize = cnp.PyArray_ITEMSIZE(A)
    cdef cnp.npy_intp *sa = cnp.PyArray_STRIDES(A)
    cdef cnp.npy_intp *sb = cnp.PyArray_STRIDES(B)
    cdef Py_ssize_t m = A.shape[0], k = A.shape[1], k2 = B.shape[0], n = B.shape[1]
    cdef Py_ssize_t rsa = sa[0] // itemsize, csa = sa[1] // itemsize
    cdef Py_ssize_t rsb = sb[0] // itemsize, csb = sb[1] // itemsize
    if trans_a:
        m, k, rsa, csa = k, m, csa, rsa
    if trans_b:
        k2, n, rsb, csb = n, k2, csb, rsb
    if k != k2:
        raise ValueError(
            f"inner dimensions differ: op(a) is {m}x{k} and op(b) is {k2}x{n} "
            f"(a {a.shape}, trans_a={trans_a}; b {b.shape}, trans_b={trans_b})")

    cdef cnp.ndarray C
    if out is None:
        if beta != 0:
            raise ValueError("beta != 0 needs an `out` array to scale and add to")
        C = cnp.PyArray_EMPTY(2, [m, n], typenum, 0)
    else:
        C = _output(out, "out", typenum, m, n)
        if _overlap(C, A) or _overlap(C, B):
            raise ValueError("out must not overlap a or b")

    cdef int act_code = _act_code(act)
    cdef int epi_mode = _mode_code(mode, act_code, bias, z, aux)
    if act_code == Act.SOFTMAX and epi_mode != FNN_EPI_NONE:
        raise ValueError("softmax is not elementwise: it cannot be a GEMM epilogue")
    if act_code == Act.STEP and epi_mode == FNN_EPI_ACT_GRAD:
        raise ValueError("the 'step' activation has no useful gradient")
    cdef fnn_epilogue epi
    cdef cnp.ndarray bias_arr, z_arr, aux_arr
    epi.mode = epi_mode
    epi.act = act_code
    epi.act_param = act_param
    epi.bias = NULL
    epi.z = NULL
    epi.ldz = 0
    epi.aux = NULL
    epi.ld_aux = 0
    if epi_mode == FNN_EPI_FORWARD:
        if aux is not None:
            raise ValueError("aux is for mode 'act_grad', not 'forward'")
        if bias is not None:
            if not isinstance(bias, cnp.ndarray) or cnp.PyArray_TYPE(bias) != typenum:
                raise TypeError(f"bias must be a numpy.ndarray of {_dtype_name(typenum)}")
            if bias.shape != (n,):
                raise ValueError(f"bias has shape {bias.shape}, expected ({n},)")
            bias_arr = np.require(bias, requirements=["C", "A"])
            epi.bias = cnp.PyArray_DATA(bias_arr)
        if z is not None:
            z_arr = _output(z, "z", typenum, m, n)
            if _overlap(z_arr, C):
                raise ValueError("z must not overlap out")
            epi.z = cnp.PyArray_DATA(z_arr)
            epi.ldz = z_arr.strides[0] // itemsize
    elif epi_mode == FNN_EPI_ACT_GRAD:
        if bias is not None or z is not None:
            raise ValueError("bias and z are for mode 'forward', not 'act_grad'")
        if aux is None:
            raise ValueError("mode 'act_grad' needs aux (the activation's output, or its "
                             "input for GELU)")
        aux_arr = _matrix(aux, "aux", typenum)
        if aux_arr.shape[0] != m or aux_arr.shape[1] != n:
            raise ValueError(f"aux has shape {aux.shape}, expected {(m, n)}")
        if n > 1 and aux_arr.strides[1] != itemsize:
            aux_arr = np.ascontiguousarray(aux_arr)
        epi.aux = cnp.PyArray_DATA(aux_arr)
        epi.ld_aux = aux_arr.strides[0] // itemsize
    elif bias is not None or z is not None or aux is not None:
        raise ValueError("bias, z and aux need an epilogue mode ('forward' or 'act_grad')")

    cdef void *pa = cnp.PyArray_DATA(A)
    cdef void *pb = cnp.PyArray_DATA(B)
    cdef void *pc = cnp.PyArray_DATA(C)
    cdef Py_ssize_t ldc = C.strides[0] // itemsize if m > 1 else n
    if bf16:
        with nogil:
            fnn_sgemm_bf16(m, n, k, <float>alpha, <const float *>pa, rsa, csa,
                           <const float *>pb, rsb, csb, <float>beta, <float *>pc, ldc, &epi,
                           NULL, 0)
    elif typenum == cnp.NPY_FLOAT32:
        with nogil:
            fnn_sgemm(m, n, k, <float>alpha, <const float *>pa, rsa, csa,
                      <const float *>pb, rsb, csb, <float>beta, <float *>pc, ldc, &epi, NULL, 0)
    else:
        with nogil:
            fnn_dgemm(m, n, k, alpha, <const double *>pa, rsa, csa,
                      <const double *>pb, rsb, csb, beta, <double *>pc, ldc, &epi, NULL, 0)
    return C
