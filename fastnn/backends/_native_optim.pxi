# The optimizer (csrc/optim.c): a StepSpec's C form, the step over the trainable
# segments of the flat buffer, and the gradient norm clipnorm uses.

from .spec import StepSpec


cdef int _c_step_spec(spec, fnn_step_spec *out) except -1:
    """out = the C form of a spec.StepSpec."""
    if not isinstance(spec, StepSpec):
        raise TypeError(f"spec must be a fastnn.backends.spec.StepSpec, "
                        f"got {type(spec).__name__}")
    out.kind = spec.kind
    _check_code(out.kind, _N_OPTS, "optimizer")
    out.nesterov = 1 if spec.nesterov else 0
    out.momentum = spec.momentum
    out.beta1 = spec.beta1
    out.beta2 = spec.beta2
    out.eps = spec.eps
    out.rho = spec.rho
    out.weight_decay = spec.weight_decay
    out.clipnorm = spec.clipnorm
    return 0


cdef int _state_buffers(states, int count, cnp.ndarray params, void **out) except -1:
    """out[i] = states[i]'s data for the `count` state arrays (each like params, writable);
    NULL for the others of out's two."""
    out[0] = out[1] = NULL
    if len(states) < count:
        raise ValueError(f"states: this optimizer needs {count} arrays, got {len(states)}")
    for i in range(count):
        state = states[i]
        if not isinstance(state, np.ndarray):
            raise TypeError(f"states[{i}] must be a numpy.ndarray")
        _check_same(<cnp.ndarray>state, f"states[{i}]", params, "params", True)
        out[i] = _data(<cnp.ndarray>state)
    return 0


def step(spec, cnp.ndarray params not None, cnp.ndarray grads not None, states,
         cnp.ndarray segments not None, double lr, t):
    """fnn_step (NativeBackend.step, reference.step): one optimizer update of params'
    segments, in place."""
    cdef fnn_step_spec c_spec
    _c_step_spec(spec, &c_spec)
    cdef int typenum = _float_typenum(params, "params")
    _check(params, "params", typenum, 1, True)
    _check_same(grads, "grads", params, "params")
    _check_segments(segments, params.shape[0])
    cdef void *state_ptrs[2]
    _state_buffers(states, fnn_step_n_states(&c_spec), params, state_ptrs)
    cdef int64_t c_t = _check_t(t)
    cdef bint f64 = typenum == cnp.NPY_FLOAT64
    cdef const int64_t *seg = <int64_t *>_data(segments)
    cdef Py_ssize_t n_seg = segments.shape[0]
    cdef void *p_params = _data(params)
    cdef const void *p_grads = _data(grads)
    with nogil:
        fnn_step(f64, &c_spec, p_params, p_grads, state_ptrs, seg, n_seg, lr, c_t)


def grad_norm(cnp.ndarray grads not None, cnp.ndarray segments not None):
    """fnn_grad_norm (reference.grad_norm): the L2 norm of grads over the segments, as
    clipnorm computes it."""
    cdef int typenum = _float_typenum(grads, "grads")
    _check(grads, "grads", typenum, 1)
    _check_segments(segments, grads.shape[0])
    return fnn_grad_norm(typenum == cnp.NPY_FLOAT64, _data(grads), <int64_t *>_data(segments),
                         segments.shape[0])
