# The C kernels come in float and double twins (fnn_*_f32 / fnn_*_f64, or fnn_sgemm /
# fnn_dgemm). Each wrapper here names both, once, and picks one by `f64` (the dtype of
# the network or of the arrays, known once their checks have passed); every other file
# calls the wrapper, in one line whatever the dtype, with the data pointers the checks
# returned. A wrapper has its C name without the suffix. (Cython's fused types choose
# at compile time, and only inside generic code; here the dtype is a run-time fact and
# each body is one C call, so a branch on one flag is the whole dispatch.)

cdef inline void fnn_gemm(bint f64, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                          const void *a, ptrdiff_t rsa, ptrdiff_t csa, const void *b,
                          ptrdiff_t rsb, ptrdiff_t csb, double beta, void *c, ptrdiff_t ldc,
                          const fnn_epilogue *epi) noexcept nogil:
    """fnn_sgemm / fnn_dgemm with their own kept scratch (no caller's scratch)."""
    if f64:
        fnn_dgemm(m, n, k, alpha, <const double *>a, rsa, csa, <const double *>b, rsb, csb,
                  beta, <double *>c, ldc, epi, NULL, 0)
    else:
        fnn_sgemm(m, n, k, <float>alpha, <const float *>a, rsa, csa, <const float *>b, rsb,
                  csb, <float>beta, <float *>c, ldc, epi, NULL, 0)


cdef inline void fnn_act_forward(bint f64, int act, double param, void *x, ptrdiff_t rows,
                                 ptrdiff_t cols) noexcept nogil:
    """x = act(x) in place over rows x cols (softmax: per row)."""
    if act == FNN_ACT_SOFTMAX:
        if f64:
            fnn_softmax_rows_f64(rows, cols, <double *>x, cols)
        else:
            fnn_softmax_rows_f32(rows, cols, <float *>x, cols)
    elif f64:
        fnn_act_forward_f64(act, param, <double *>x, rows * cols)
    else:
        fnn_act_forward_f32(act, param, <float *>x, rows * cols)


cdef inline void fnn_act_grad(bint f64, int act, double param, const void *source, void *d,
                              ptrdiff_t rows, ptrdiff_t cols) noexcept nogil:
    """d *= act'(source) in place (source: the output, or GELU's input; softmax: the
    Jacobian-vector product per row)."""
    if act == FNN_ACT_SOFTMAX:
        if f64:
            fnn_softmax_grad_rows_f64(rows, cols, <const double *>source, cols, <double *>d,
                                      cols)
        else:
            fnn_softmax_grad_rows_f32(rows, cols, <const float *>source, cols, <float *>d, cols)
    elif f64:
        fnn_act_grad_f64(act, param, <const double *>source, <const double *>source,
                         <double *>d, rows * cols)
    else:
        fnn_act_grad_f32(act, param, <const float *>source, <const float *>source, <float *>d,
                         rows * cols)


cdef inline int fnn_loss_grad(bint f64, int loss, double loss_param, int act, double act_param,
                              ptrdiff_t n, ptrdiff_t k, const void *a, const void *z,
                              const int64_t *labels, const void *targets, const void *weights,
                              double denominator, void *grad, double *value) noexcept nogil:
    if f64:
        return fnn_loss_grad_f64(loss, loss_param, act, act_param, n, k, <const double *>a,
                                 <const double *>z, labels, <const double *>targets,
                                 <const double *>weights, denominator, <double *>grad, value)
    return fnn_loss_grad_f32(loss, loss_param, act, act_param, n, k, <const float *>a,
                             <const float *>z, labels, <const float *>targets,
                             <const float *>weights, denominator, <float *>grad, value)


cdef inline int fnn_metric_sum(bint f64, int metric, ptrdiff_t n, ptrdiff_t k, const void *out,
                               const int64_t *labels, const void *targets,
                               double *total) noexcept nogil:
    if f64:
        return fnn_metric_sum_f64(metric, n, k, <const double *>out, labels,
                                  <const double *>targets, total)
    return fnn_metric_sum_f32(metric, n, k, <const float *>out, labels,
                              <const float *>targets, total)


cdef inline void fnn_step(bint f64, const fnn_step_spec *spec, void *params, const void *grads,
                          void **states, const int64_t *segments, ptrdiff_t n_segments,
                          double lr, int64_t t) noexcept nogil:
    if f64:
        fnn_step_f64(spec, <double *>params, <const double *>grads, <double **>states,
                     segments, n_segments, lr, t)
    else:
        fnn_step_f32(spec, <float *>params, <const float *>grads, <float **>states,
                     segments, n_segments, lr, t)


cdef inline double fnn_grad_norm(bint f64, const void *grads, const int64_t *segments,
                                 ptrdiff_t n_segments) noexcept nogil:
    if f64:
        return fnn_grad_norm_f64(<const double *>grads, segments, n_segments)
    return fnn_grad_norm_f32(<const float *>grads, segments, n_segments)


cdef inline void fnn_net_forward(bint f64, const fnn_net *net, const void *params,
                                 const void *x, ptrdiff_t n, const fnn_workspace *ws,
                                 int training, uint64_t seed, uint64_t step) noexcept nogil:
    if f64:
        fnn_net_forward_f64(net, <const double *>params, <const double *>x, n, ws, training,
                            seed, step)
    else:
        fnn_net_forward_f32(net, <const float *>params, <const float *>x, n, ws, training,
                            seed, step)


cdef inline int fnn_net_loss_grad(bint f64, const fnn_net *net, int loss, double loss_param,
                                  const void *params, const fnn_workspace *ws, ptrdiff_t n,
                                  const int64_t *labels, const void *targets,
                                  const void *weights, double *value) noexcept nogil:
    if f64:
        return fnn_net_loss_grad_f64(net, loss, loss_param, <const double *>params, ws, n,
                                     labels, <const double *>targets, <const double *>weights,
                                     value)
    return fnn_net_loss_grad_f32(net, loss, loss_param, <const float *>params, ws, n, labels,
                                 <const float *>targets, <const float *>weights, value)


cdef inline void fnn_net_backward(bint f64, const fnn_net *net, const void *params, void *grads,
                                  const fnn_workspace *ws, const void *x,
                                  ptrdiff_t n) noexcept nogil:
    if f64:
        fnn_net_backward_f64(net, <const double *>params, <double *>grads, ws,
                             <const double *>x, n)
    else:
        fnn_net_backward_f32(net, <const float *>params, <float *>grads, ws, <const float *>x,
                             n)


cdef inline int fnn_net_train_step(bint f64, const fnn_net *net, const fnn_workspace *ws,
                                   const fnn_train_step *step, double *value) noexcept nogil:
    if f64:
        return fnn_net_train_step_f64(net, ws, step, value)
    return fnn_net_train_step_f32(net, ws, step, value)


cdef inline int fnn_net_gradients(bint f64, const fnn_net *net, const fnn_workspace *ws,
                                  const fnn_train_step *step, double *value) noexcept nogil:
    if f64:
        return fnn_net_gradients_f64(net, ws, step, value)
    return fnn_net_gradients_f32(net, ws, step, value)


cdef inline ptrdiff_t fnn_net_predict(bint f64, const fnn_net *net, const void *params,
                                      const void *x, ptrdiff_t n, ptrdiff_t chunk, void *out,
                                      void *scratch, size_t scratch_bytes) noexcept nogil:
    if f64:
        return fnn_net_predict_f64(net, <const double *>params, <const double *>x, n, chunk,
                                   <double *>out, scratch, scratch_bytes)
    return fnn_net_predict_f32(net, <const float *>params, <const float *>x, n, chunk,
                               <float *>out, scratch, scratch_bytes)
