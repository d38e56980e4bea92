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
)

from .spec import Act

cnp.import_array()

EPILOGUE_MODES = ("none", "forward", "act_grad")


cdef inline bint _has_unit_columns(cnp.ndarray x):
    """Whether x's rows are contiguous (unit column stride), as C and z need to be."""
    return x.shape[1] <= 1 or x.strides[1] == x.itemsize


cdef cnp.ndarray _operand(object x, str name, object dtype):
    """x as a 2-D array of `dtype` whose strides are whole elements (copied if not)."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype != dtype:
        raise TypeError(f"{name} has dtype {x.dtype}, expected {dtype} (as a)")
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got {x.ndim}-D with shape {x.shape}")
    if x.strides[0] % x.itemsize or x.strides[1] % x.itemsize:
        x = np.ascontiguousarray(x)
    return x


cdef cnp.ndarray _output(object x, str name, object dtype, tuple shape):
    """A writeable (m, n) array of `dtype` with unit column stride, checked not copied."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype != dtype:
        raise TypeError(f"{name} has dtype {x.dtype}, expected {dtype}")
    if x.shape != shape:
        raise ValueError(f"{name} has shape {x.shape}, expected {shape}")
    if not x.flags.writeable:
        raise ValueError(f"{name} is read-only")
    if x.size and (not _has_unit_columns(x) or x.strides[0] % x.itemsize):
        raise ValueError(f"{name} must have contiguous rows (unit column stride), "
                         f"got strides {x.strides}")
    return x


cdef int _act_code(object act) except -1:
    """An elementwise activation's code, from its name or its fastnn Act code."""
    if isinstance(act, str):
        try:
            return int(Act[act.strip().upper()])
        except KeyError:
            raise ValueError(f"unknown activation {act!r}") from None
    try:
        return int(Act(act))
    except ValueError:
        raise ValueError(f"unknown activation code {act!r}") from None


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
         aux=None, mode=None):
    """out = epilogue(alpha * op(a) @ op(b) + beta * out), op transposing when asked.

    ``a`` and ``b`` are 2-D float32 or float64 arrays of one dtype with any strides
    (Fortran order, negative or non-contiguous views: no copy). ``out`` (m, n) needs
    contiguous rows; it is allocated when None (then beta must be 0) and returned.
    The epilogue ``mode`` ("none", "forward", "act_grad"; inferred when None):

    * forward:  t = alpha*op(a)@op(b) + beta*out + bias; z[...] = t if z is given;
      out = act(t) for an elementwise activation (name or fastnn Act code).
    * act_grad: out = (alpha*op(a)@op(b) + beta*out) * act'(aux), aux being the
      activation's output (its input z for GELU), shape (m, n).

    The GIL is released during the product; threads as set by set_num_threads().
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(f"a must be a numpy.ndarray, got {type(a).__name__}")
    dtype = a.dtype
    if dtype != np.float32 and dtype != np.float64:
        raise TypeError(f"a has dtype {dtype}, expected float32 or float64")
    cdef cnp.ndarray A = _operand(a, "a", dtype)
    cdef cnp.ndarray B = _operand(b, "b", dtype)
    cdef Py_ssize_t itemsize = A.itemsize
    cdef Py_ssize_t m, k, n, k2
    cdef Py_ssize_t rsa = A.strides[0] // itemsize, csa = A.strides[1] // itemsize
    cdef Py_ssize_t rsb = B.strides[0] // itemsize, csb = B.strides[1] // itemsize
    m, k = (A.shape[1], A.shape[0]) if trans_a else (A.shape[0], A.shape[1])
    k2, n = (B.shape[1], B.shape[0]) if trans_b else (B.shape[0], B.shape[1])
    if trans_a:
        rsa, csa = csa, rsa
    if trans_b:
        rsb, csb = csb, rsb
    if k != k2:
        raise ValueError(
            f"inner dimensions differ: op(a) is {m}x{k} and op(b) is {k2}x{n} "
            f"(a {a.shape}, trans_a={trans_a}; b {b.shape}, trans_b={trans_b})")

    cdef tuple shape = (m, n)
    cdef cnp.ndarray C
    if out is None:
        if beta != 0:
            raise ValueError("beta != 0 needs an `out` array to scale and add to")
        C = np.empty(shape, dtype)
    else:
        C = _output(out, "out", dtype, shape)
        if np.may_share_memory(C, A) or np.may_share_memory(C, B):
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
            if not isinstance(bias, np.ndarray) or bias.dtype != dtype:
                raise TypeError(f"bias must be a numpy.ndarray of {dtype}")
            if bias.shape != (n,):
                raise ValueError(f"bias has shape {bias.shape}, expected ({n},)")
            bias_arr = np.ascontiguousarray(bias)
            epi.bias = cnp.PyArray_DATA(bias_arr)
        if z is not None:
            z_arr = _output(z, "z", dtype, shape)
            if np.may_share_memory(z_arr, C):
                raise ValueError("z must not overlap out")
            epi.z = cnp.PyArray_DATA(z_arr)
            epi.ldz = z_arr.strides[0] // itemsize
    elif epi_mode == FNN_EPI_ACT_GRAD:
        if bias is not None or z is not None:
            raise ValueError("bias and z are for mode 'forward', not 'act_grad'")
        if aux is None:
            raise ValueError("mode 'act_grad' needs aux (the activation's output, or its "
                             "input for GELU)")
        aux_arr = _operand(aux, "aux", dtype)
        if aux_arr.shape[0] != m or aux_arr.shape[1] != n:
            raise ValueError(f"aux has shape {aux.shape}, expected {shape}")
        if not _has_unit_columns(aux_arr):
            aux_arr = np.ascontiguousarray(aux_arr)
        epi.aux = cnp.PyArray_DATA(aux_arr)
        epi.ld_aux = aux_arr.strides[0] // itemsize
    elif bias is not None or z is not None or aux is not None:
        raise ValueError("bias, z and aux need an epilogue mode ('forward' or 'act_grad')")

    cdef void *pa = cnp.PyArray_DATA(A)
    cdef void *pb = cnp.PyArray_DATA(B)
    cdef void *pc = cnp.PyArray_DATA(C)
    cdef Py_ssize_t ldc = C.strides[0] // itemsize if m > 1 else n
    if dtype == np.float32:
        with nogil:
            fnn_sgemm(m, n, k, <float>alpha, <const float *>pa, rsa, csa,
                      <const float *>pb, rsb, csb, <float>beta, <float *>pc, ldc, &epi, NULL)
    else:
        with nogil:
            fnn_dgemm(m, n, k, alpha, <const double *>pa, rsa, csa,
                      <const double *>pb, rsb, csb, beta, <double *>pc, ldc, &epi, NULL)
    return C
