# The single kernels, each on its own, for the cross-checks: every function here has a
# twin of the same name and arguments in reference.py (reference.KERNELS; the test in
# tests/test_twins.py fails for a kernel without one). Each returns new arrays, as its
# twin does; the C kernels underneath work in place.

C_CODES = {
    "FNN_ACT_LINEAR": FNN_ACT_LINEAR,
    "FNN_ACT_RELU": FNN_ACT_RELU,
    "FNN_ACT_LEAKY_RELU": FNN_ACT_LEAKY_RELU,
    "FNN_ACT_SIGMOID": FNN_ACT_SIGMOID,
    "FNN_ACT_TANH": FNN_ACT_TANH,
    "FNN_ACT_SOFTMAX": FNN_ACT_SOFTMAX,
    "FNN_ACT_ELU": FNN_ACT_ELU,
    "FNN_ACT_GELU": FNN_ACT_GELU,
    "FNN_ACT_SOFTPLUS": FNN_ACT_SOFTPLUS,
    "FNN_ACT_STEP": FNN_ACT_STEP,
    "FNN_LOSS_MSE": FNN_LOSS_MSE,
    "FNN_LOSS_MAE": FNN_LOSS_MAE,
    "FNN_LOSS_HUBER": FNN_LOSS_HUBER,
    "FNN_LOSS_CROSS_ENTROPY": FNN_LOSS_CROSS_ENTROPY,
    "FNN_LOSS_BINARY_CROSS_ENTROPY": FNN_LOSS_BINARY_CROSS_ENTROPY,
    "FNN_LOSS_KL_DIVERGENCE": FNN_LOSS_KL_DIVERGENCE,
    "FNN_OPT_SGD": FNN_OPT_SGD,
    "FNN_OPT_ADAM": FNN_OPT_ADAM,
    "FNN_OPT_ADAMW": FNN_OPT_ADAMW,
    "FNN_OPT_RMSPROP": FNN_OPT_RMSPROP,
    "FNN_OPT_ADAGRAD": FNN_OPT_ADAGRAD,
    "FNN_LAYER_DENSE": FNN_LAYER_DENSE,
    "FNN_LAYER_DROPOUT": FNN_LAYER_DROPOUT,
    "FNN_METRIC_ACCURACY": FNN_METRIC_ACCURACY,
    "FNN_METRIC_BINARY_ACCURACY": FNN_METRIC_BINARY_ACCURACY,
    "FNN_METRIC_MSE": FNN_METRIC_MSE,
    "FNN_METRIC_MAE": FNN_METRIC_MAE,
    "FNN_SIMD_SCALAR": FNN_SIMD_SCALAR,
    "FNN_SIMD_AVX2": FNN_SIMD_AVX2,
    "FNN_SIMD_AVX512": FNN_SIMD_AVX512,
    "FNN_PRECISION_FLOAT32": FNN_PRECISION_FLOAT32,
    "FNN_PRECISION_BF16": FNN_PRECISION_BF16,
}


cdef cnp.ndarray _float_copy(object x, str name):
    """A new C-ordered, aligned copy of a float32/float64 array."""
    cdef cnp.ndarray a = _array(x, name)
    _float_typenum(a, name)
    return np.array(a, copy=True, order="C")


cdef int _rows_cols(cnp.ndarray x, int act, str name, Py_ssize_t *rows,
                    Py_ssize_t *cols) except -1:
    """Softmax works on the rows of a 2-D array; anything else on every element."""
    if act == FNN_ACT_SOFTMAX:
        if x.ndim != 2:
            raise ValueError(f"softmax works on rows: {name} must be 2-D, got shape {_shape(x)}")
        rows[0], cols[0] = x.shape[0], x.shape[1]
    else:
        rows[0], cols[0] = 1, x.size
    return 0


def act_forward(int act, z, double param=0.0):
    """fnn_act_forward (softmax: fnn_softmax_rows): a new array act(z)."""
    _check_act(act)
    cdef cnp.ndarray out = _float_copy(z, "z")
    cdef Py_ssize_t rows = 0, cols = 0
    _rows_cols(out, act, "z", &rows, &cols)
    cdef bint f64 = cnp.PyArray_TYPE(out) == cnp.NPY_FLOAT64
    cdef void *p = _data(out)
    if rows and cols:
        with nogil:
            fnn_act_forward(f64, act, param, p, rows, cols)
    return out


def act_grad(int act, a, z, da, double param=0.0):
    """fnn_act_grad (softmax: fnn_softmax_grad_rows): a new array dL/dz from dL/da, for
    the output a (GELU: from the input z; the other may be None)."""
    _check_act(act)
    if act == FNN_ACT_STEP:
        raise ValueError("the 'step' activation has no useful gradient; train it with "
                         "fn.Perceptron")
    cdef cnp.ndarray out = _float_copy(da, "da")
    if act == FNN_ACT_LINEAR:
        return out
    name = "z" if act == FNN_ACT_GELU else "a"
    source = z if act == FNN_ACT_GELU else a
    if source is None:
        raise ValueError(f"{name} is needed for this activation's derivative")
    _check_same(_array(source, name), name, out, "da")
    cdef Py_ssize_t rows = 0, cols = 0
    _rows_cols(out, act, "da", &rows, &cols)
    cdef bint f64 = cnp.PyArray_TYPE(out) == cnp.NPY_FLOAT64
    cdef const void *p_source = _data(<cnp.ndarray>source)
    cdef void *p_out = _data(out)
    if rows and cols:
        with nogil:
            fnn_act_grad(f64, act, param, p_source, p_out, rows, cols)
    return out


def loss_grad(loss, int act, cnp.ndarray a not None, cnp.ndarray z not None,
              cnp.ndarray y not None, sample_weight=None, double act_param=0.0,
              denominator=None):
    """fnn_loss_grad: (loss, dL/dz) of the output layer's rows: the sum of the rows'
    losses over `denominator` (None: the rows' count, the mean), no penalty."""
    if not isinstance(loss, LossSpec):
        raise TypeError(f"loss must be a fastnn.backends.spec.LossSpec, "
                        f"got {type(loss).__name__}")
    cdef int typenum = _float_typenum(a, "a")
    _check(a, "a", typenum, 2)
    _check_same(z, "z", a, "a")
    _check_act(act)
    cdef Py_ssize_t n = a.shape[0], k = a.shape[1]
    cdef int64_t *labels = NULL
    cdef void *targets = NULL
    _targets(y, typenum, n, k, &labels, &targets)
    cdef void *weights = _weights(sample_weight, typenum, n)
    cdef double over = n if denominator is None else _denominator(denominator)
    cdef cnp.ndarray grad = np.empty_like(a)
    cdef int code = loss.code, status
    cdef double loss_param = loss.param, value = 0
    cdef bint f64 = typenum == cnp.NPY_FLOAT64
    cdef const void *p_a = _data(a)
    cdef const void *p_z = _data(z)
    cdef void *p_grad = _data(grad)
    with nogil:
        status = fnn_loss_grad(f64, code, loss_param, act, act_param, n, k, p_a, p_z, labels,
                               targets, weights, over, p_grad, &value)
    if status != 0:
        _loss_status(status)
    return value, grad


def metric_sum(int code, cnp.ndarray out not None, cnp.ndarray y not None):
    """fnn_metric_sum: the metric's sum over the rows of `out` (a Python float)."""
    cdef int typenum = _float_typenum(out, "out")
    _check(out, "out", typenum, 2)
    cdef Py_ssize_t n = out.shape[0], k = out.shape[1]
    cdef int64_t *labels = NULL
    cdef void *targets = NULL
    _targets(y, typenum, n, k, &labels, &targets)
    cdef double total = 0
    if fnn_metric_sum(typenum == cnp.NPY_FLOAT64, code, n, k, _data(out), labels, targets,
                      &total) != 0:
        raise ValueError(f"unknown metric code {code}")
    return total


def dropout_mask(seed, step, layer, shape, double rate, Py_ssize_t first=0):
    """fnn_dropout_mask: the uint8 keep-mask of `shape`, elements first.. of the
    (seed, step, layer) mask."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1), got {rate}")
    if first < 0:
        raise ValueError(f"first must be >= 0, got {first}")
    shape = tuple(shape)
    cdef cnp.ndarray mask = np.empty(shape, np.uint8)
    cdef uint64_t key = fnn_dropout_key(_u64(seed), _u64(step), _u64(layer))
    cdef uint32_t threshold = fnn_dropout_threshold(rate)
    cdef Py_ssize_t count = mask.size
    cdef void *p_mask = _data(mask)
    with nogil:
        fnn_dropout_mask(key, threshold, first, count, <uint8_t *>p_mask)
    return mask


def mix64(x):
    """fnn_mix64 (SplitMix64's finaliser) on a Python int, modulo 2^64."""
    return fnn_mix64(_u64(x))
