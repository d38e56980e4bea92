# The GEMM (csrc/gemm/): out = epilogue(alpha * op(a) @ op(b) + beta * out).

EPILOGUE_MODES = ("none", "forward", "act_grad")


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
    cdef int typenum = cnp.PyArray_TYPE(_array(a, "a"))
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
                raise TypeError(f"bias must be a numpy.ndarray of {_typenum_name(typenum)}")
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

    cdef bint f64 = typenum == cnp.NPY_FLOAT64
    cdef const void *pa = _data(A)
    cdef const void *pb = _data(B)
    cdef void *pc = _data(C)
    cdef Py_ssize_t ldc = C.strides[0] // itemsize if m > 1 else n
    with nogil:
        if bf16:
            fnn_sgemm_bf16(m, n, k, <float>alpha, <const float *>pa, rsa, csa,
                           <const float *>pb, rsb, csb, <float>beta, <float *>pc, ldc, &epi,
                           NULL, 0)
        else:
            fnn_gemm(f64, m, n, k, alpha, pa, rsa, csa, pb, rsb, csb, beta, pc, ldc, &epi)
    return C
