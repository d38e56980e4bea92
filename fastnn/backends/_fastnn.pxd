# Declarations of csrc/fastnn.h for Cython (keep in step with the header).
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t


cdef extern from "fastnn.h" nogil:
    int fnn_simd_detected()
    int fnn_simd_level()
    int fnn_set_simd_level(int level)
    int fnn_openmp_enabled()
    void fnn_set_num_threads(int n)
    int fnn_get_num_threads()

    enum:
        FNN_EPI_NONE
        FNN_EPI_FORWARD
        FNN_EPI_ACT_GRAD

    ctypedef struct fnn_epilogue:
        int mode
        int act
        double act_param
        const void *bias
        void *z
        ptrdiff_t ldz
        const void *aux
        ptrdiff_t ld_aux

    void fnn_sgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                   const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                   const float *b, ptrdiff_t rsb, ptrdiff_t csb,
                   float beta, float *c, ptrdiff_t ldc,
                   const fnn_epilogue *epi, void *scratch, size_t scratch_bytes)
    void fnn_dgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                   const double *a, ptrdiff_t rsa, ptrdiff_t csa,
                   const double *b, ptrdiff_t rsb, ptrdiff_t csb,
                   double beta, double *c, ptrdiff_t ldc,
                   const fnn_epilogue *epi, void *scratch, size_t scratch_bytes)
    size_t fnn_gemm_scratch_bytes(int is_double, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                                  int threads)

    # ---------------------------------------------------------------- bf16 products
    int fnn_bf16_detected()
    int fnn_bf16_level()
    int fnn_set_bf16_level(int level)
    void fnn_f32_to_bf16(ptrdiff_t n, const float *x, uint16_t *out)
    void fnn_round_bf16_f32(ptrdiff_t n, const float *x, float *out)
    void fnn_bf16_to_f32(ptrdiff_t n, const uint16_t *x, float *out)
    void fnn_sgemm_bf16(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                        const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                        const float *b, ptrdiff_t rsb, ptrdiff_t csb,
                        float beta, float *c, ptrdiff_t ldc,
                        const fnn_epilogue *epi, void *scratch, size_t scratch_bytes)
    size_t fnn_gemm_bf16_scratch_bytes(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, int threads)

    void fnn_act_forward_f32(int act, double param, float *x, ptrdiff_t n)
    void fnn_act_forward_f64(int act, double param, double *x, ptrdiff_t n)
    void fnn_act_grad_f32(int act, double param, const float *a, const float *z,
                          float *d, ptrdiff_t n)
    void fnn_act_grad_f64(int act, double param, const double *a, const double *z,
                          double *d, ptrdiff_t n)

    ctypedef struct fnn_layer:
        int kind
        int act
        double act_param
        ptrdiff_t n_in, n_out
        ptrdiff_t w_offset
        ptrdiff_t b_offset
        double rate
        double l1, l2
        int trainable
        int precision

    # ---------------------------------------------------------------- activations
    void fnn_softmax_rows_f32(ptrdiff_t m, ptrdiff_t n, float *x, ptrdiff_t ldx)
    void fnn_softmax_rows_f64(ptrdiff_t m, ptrdiff_t n, double *x, ptrdiff_t ldx)
    void fnn_softmax_grad_rows_f32(ptrdiff_t m, ptrdiff_t n, const float *a, ptrdiff_t lda,
                                   float *d, ptrdiff_t ldd)
    void fnn_softmax_grad_rows_f64(ptrdiff_t m, ptrdiff_t n, const double *a, ptrdiff_t lda,
                                   double *d, ptrdiff_t ldd)

    # ---------------------------------------------------------------- codes
    enum:
        FNN_ACT_LINEAR
        FNN_ACT_RELU
        FNN_ACT_LEAKY_RELU
        FNN_ACT_SIGMOID
        FNN_ACT_TANH
        FNN_ACT_SOFTMAX
        FNN_ACT_ELU
        FNN_ACT_GELU
        FNN_ACT_SOFTPLUS
        FNN_ACT_STEP
        FNN_LOSS_MSE
        FNN_LOSS_MAE
        FNN_LOSS_HUBER
        FNN_LOSS_CROSS_ENTROPY
        FNN_LOSS_BINARY_CROSS_ENTROPY
        FNN_LOSS_KL_DIVERGENCE
        FNN_OPT_SGD
        FNN_OPT_ADAM
        FNN_OPT_ADAMW
        FNN_OPT_RMSPROP
        FNN_OPT_ADAGRAD
        FNN_LAYER_DENSE
        FNN_LAYER_DROPOUT
        FNN_METRIC_ACCURACY
        FNN_METRIC_BINARY_ACCURACY
        FNN_METRIC_MSE
        FNN_METRIC_MAE
        FNN_SIMD_SCALAR
        FNN_SIMD_AVX2
        FNN_SIMD_AVX512
        FNN_PRECISION_FLOAT32
        FNN_PRECISION_BF16
        FNN_PREDICT_CHUNK

    # ---------------------------------------------------------------- dropout
    uint64_t fnn_mix64(uint64_t x)
    uint64_t fnn_dropout_key(uint64_t seed, uint64_t step, uint64_t layer)
    uint32_t fnn_dropout_threshold(double rate)
    void fnn_dropout_mask(uint64_t key, uint32_t threshold, ptrdiff_t first, ptrdiff_t count,
                          uint8_t *mask)

    # ---------------------------------------------------------------- losses
    int fnn_loss_grad_f32(int loss, double loss_param, int act, double act_param,
                          ptrdiff_t n, ptrdiff_t k, const float *a, const float *z,
                          const int64_t *labels, const float *targets, const float *weights,
                          double denominator, float *grad, double *loss_out)
    int fnn_loss_grad_f64(int loss, double loss_param, int act, double act_param,
                          ptrdiff_t n, ptrdiff_t k, const double *a, const double *z,
                          const int64_t *labels, const double *targets,
                          const double *weights, double denominator, double *grad,
                          double *loss_out)
    int fnn_metric_sum_f32(int metric, ptrdiff_t n, ptrdiff_t k, const float *out,
                           const int64_t *labels, const float *targets, double *sum)
    int fnn_metric_sum_f64(int metric, ptrdiff_t n, ptrdiff_t k, const double *out,
                           const int64_t *labels, const double *targets, double *sum)

    # ---------------------------------------------------------------- optimizers
    ctypedef struct fnn_step_spec:
        int kind
        int nesterov
        double momentum
        double beta1, beta2
        double eps
        double rho
        double weight_decay
        double clipnorm

    int fnn_step_n_states(const fnn_step_spec *spec)
    void fnn_step_f32(const fnn_step_spec *spec, float *params, const float *grads,
                      float *const *states, const int64_t *segments, ptrdiff_t n_segments,
                      double lr, int64_t t)
    void fnn_step_f64(const fnn_step_spec *spec, double *params, const double *grads,
                      double *const *states, const int64_t *segments, ptrdiff_t n_segments,
                      double lr, int64_t t)
    double fnn_grad_norm_f32(const float *grads, const int64_t *segments, ptrdiff_t n_segments)
    double fnn_grad_norm_f64(const double *grads, const int64_t *segments,
                             ptrdiff_t n_segments)

    # ---------------------------------------------------------------- networks
    ctypedef struct fnn_net:
        const fnn_layer *layers
        int n_layers

    ctypedef struct fnn_workspace:
        ptrdiff_t batch
        void **acts
        void **pres
        uint8_t **masks
        void *dout
        void *delta[2]
        void *scratch
        size_t scratch_bytes
        void *gather_x
        int64_t *gather_labels
        void *gather_targets
        void *gather_weights

    ctypedef struct fnn_train_step:
        ptrdiff_t n
        const void *x
        const int64_t *labels
        const void *targets
        const void *weights
        const int64_t *rows
        ptrdiff_t n_data
        int loss
        double loss_param
        uint64_t seed, dropout_step
        const fnn_step_spec *opt
        void *params
        void *grads
        void **states
        const int64_t *segments
        ptrdiff_t n_segments
        double lr
        int64_t t
        const int *metrics
        int n_metrics
        double *totals
        ptrdiff_t row_offset
        double denominator
        int skip_penalty

    size_t fnn_net_scratch_bytes(const fnn_net *net, int is_double, ptrdiff_t batch,
                                 int threads)
    void fnn_net_forward_f32(const fnn_net *net, const float *params, const float *x,
                             ptrdiff_t n, const fnn_workspace *ws, int training,
                             uint64_t seed, uint64_t step)
    void fnn_net_forward_f64(const fnn_net *net, const double *params, const double *x,
                             ptrdiff_t n, const fnn_workspace *ws, int training,
                             uint64_t seed, uint64_t step)
    int fnn_net_loss_grad_f32(const fnn_net *net, int loss, double loss_param,
                              const float *params, const fnn_workspace *ws, ptrdiff_t n,
                              const int64_t *labels, const float *targets,
                              const float *weights, double *loss_out)
    int fnn_net_loss_grad_f64(const fnn_net *net, int loss, double loss_param,
                              const double *params, const fnn_workspace *ws, ptrdiff_t n,
                              const int64_t *labels, const double *targets,
                              const double *weights, double *loss_out)
    double fnn_net_penalty_f32(const fnn_net *net, const float *params)
    double fnn_net_penalty_f64(const fnn_net *net, const double *params)
    void fnn_net_backward_f32(const fnn_net *net, const float *params, float *grads,
                              const fnn_workspace *ws, const float *x, ptrdiff_t n)
    void fnn_net_backward_f64(const fnn_net *net, const double *params, double *grads,
                              const fnn_workspace *ws, const double *x, ptrdiff_t n)
    int fnn_net_train_step_f32(const fnn_net *net, const fnn_workspace *ws,
                               const fnn_train_step *step, double *loss_out)
    int fnn_net_train_step_f64(const fnn_net *net, const fnn_workspace *ws,
                               const fnn_train_step *step, double *loss_out)
    int fnn_net_gradients_f32(const fnn_net *net, const fnn_workspace *ws,
                              const fnn_train_step *step, double *loss_out)
    int fnn_net_gradients_f64(const fnn_net *net, const fnn_workspace *ws,
                              const fnn_train_step *step, double *loss_out)
    size_t fnn_net_predict_scratch_bytes(const fnn_net *net, int is_double, ptrdiff_t rows,
                                         int threads)
    ptrdiff_t fnn_net_predict_f32(const fnn_net *net, const float *params, const float *x,
                                  ptrdiff_t n, ptrdiff_t chunk, float *out, void *scratch,
                                  size_t scratch_bytes)
    ptrdiff_t fnn_net_predict_f64(const fnn_net *net, const double *params, const double *x,
                                  ptrdiff_t n, ptrdiff_t chunk, double *out, void *scratch,
                                  size_t scratch_bytes)
