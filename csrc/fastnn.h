/*
 * fastnn.h - the C API of fastnn's kernels (plain C99, no Python).
 *
 * Conventions used by every function below:
 *   - Matrices are row-major unless strides say otherwise; sizes and strides are
 *     ptrdiff_t counts of elements (not bytes).
 *   - Every kernel exists for float (suffix _f32, or the "s" of sgemm) and double.
 *   - Results never depend on the number of threads: work is split over independent
 *     blocks of the output, and every reduction runs in a fixed order.
 *   - Functions are safe to call from several threads at once (no hidden shared
 *     mutable state beyond the one-time CPU-feature detection).
 * The integer codes mirror fastnn/backends/spec.py (a test checks they agree).
 */
#ifndef FASTNN_H
#define FASTNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ codes */

enum fnn_act {
    FNN_ACT_LINEAR = 0,
    FNN_ACT_RELU = 1,
    FNN_ACT_LEAKY_RELU = 2,
    FNN_ACT_SIGMOID = 3,
    FNN_ACT_TANH = 4,
    FNN_ACT_SOFTMAX = 5,
    FNN_ACT_ELU = 6,
    FNN_ACT_GELU = 7,
    FNN_ACT_SOFTPLUS = 8,
    FNN_ACT_STEP = 9
};

enum fnn_loss {
    FNN_LOSS_MSE = 0,
    FNN_LOSS_MAE = 1,
    FNN_LOSS_HUBER = 2,
    FNN_LOSS_CROSS_ENTROPY = 3,
    FNN_LOSS_BINARY_CROSS_ENTROPY = 4,
    FNN_LOSS_KL_DIVERGENCE = 5
};

enum fnn_opt {
    FNN_OPT_SGD = 0,
    FNN_OPT_ADAM = 1,
    FNN_OPT_ADAMW = 2,
    FNN_OPT_RMSPROP = 3,
    FNN_OPT_ADAGRAD = 4
};

enum fnn_layer_kind { FNN_LAYER_DENSE = 0, FNN_LAYER_DROPOUT = 1 };

enum fnn_metric {
    FNN_METRIC_ACCURACY = 0,
    FNN_METRIC_BINARY_ACCURACY = 1,
    FNN_METRIC_MSE = 2,
    FNN_METRIC_MAE = 3
};

enum fnn_simd { FNN_SIMD_SCALAR = 0, FNN_SIMD_AVX2 = 1, FNN_SIMD_AVX512 = 2 };

/* A Dense layer's matrix products: float, or BF16 (fnn_sgemm_bf16: operands rounded to
 * bf16, float sums; float nets only, double nets ignore it). */
enum fnn_precision { FNN_PRECISION_FLOAT32 = 0, FNN_PRECISION_BF16 = 1 };

/* ------------------------------------------------------------------ runtime */

/* The SIMD level the CPU supports (detected once). */
int fnn_simd_detected(void);
/* The level in use: the detected one, or lower when forced. */
int fnn_simd_level(void);
/* Force a level <= the detected one (tests use this to reach every path); returns the
 * level now in effect. A level above the detected one is clamped down. */
int fnn_set_simd_level(int level);
/* 1 when built with OpenMP. */
int fnn_openmp_enabled(void);
/* Threads the kernels use (>= 1; 1 without OpenMP). */
void fnn_set_num_threads(int n);
int fnn_get_num_threads(void);

/* ------------------------------------------------------------------ parallel loops */

/* One task of fnn_parallel_for: `task` in [0, n); `worker` in [0, threads) names the
 * thread running it (the caller is 0), for per-thread scratch. */
typedef void fnn_task_fn(void *ctx, ptrdiff_t task, int worker);

/* Runs fn(ctx, i, worker) once for every i in [0, n), on up to `threads` threads of
 * fastnn's pool (the caller is one of them), and returns when all have run. Thread t is
 * offered the contiguous range of tasks [n*t/threads, n*(t+1)/threads) in order; a
 * thread that runs out takes the others' remaining tasks from their end. So a thread
 * the OS does not schedule delays nothing: its tasks are run by the others, and the
 * call waits only for tasks already started. Tasks must not depend on which thread runs
 * them or in what order; then neither do results. A call from inside a task, or while
 * another thread's call is running, runs its tasks on the calling thread. Workers run
 * with the caller's floating-point control state (flush-to-zero, rounding). Idle
 * workers poll for ~0.2 ms, then sleep. Serial in builds without threads. */
void fnn_parallel_for(ptrdiff_t n, int threads, fnn_task_fn *fn, void *ctx);

/* ------------------------------------------------------------------ GEMM */

/* What to do with each element of C once its full K-sum `acc` is known.
 *   mode FNN_EPI_NONE:     c = alpha*acc + beta*c
 *   mode FNN_EPI_FORWARD:  t = alpha*acc + beta*c + bias[j];  if z: z[i*ldz+j] = t;
 *                          c = act(t)          (act elementwise: never SOFTMAX)
 *   mode FNN_EPI_ACT_GRAD: c = (alpha*acc + beta*c) * act'(...), the derivative taken
 *                          from the activation's output a[i*ld_aux+j] (or, for GELU,
 *                          from its input z[i*ld_aux+j], passed in `aux`)
 * `bias` may be NULL (no bias). Pointers have the GEMM's element type. */
enum fnn_epi_mode { FNN_EPI_NONE = 0, FNN_EPI_FORWARD = 1, FNN_EPI_ACT_GRAD = 2 };

typedef struct fnn_epilogue {
    int mode;           /* enum fnn_epi_mode */
    int act;            /* enum fnn_act */
    double act_param;   /* leaky_relu / elu alpha */
    const void *bias;   /* FORWARD: n values, or NULL */
    void *z;            /* FORWARD: where to keep the pre-activation, or NULL */
    ptrdiff_t ldz;
    const void *aux;    /* ACT_GRAD: activation output a (input z for GELU), m x n */
    ptrdiff_t ld_aux;
} fnn_epilogue;

/* C (m x n, row stride ldc, unit column stride) = epilogue(alpha * A B + beta * C),
 * where A is m x k with element (i, p) at a[i*rsa + p*csa] and B is k x n with element
 * (p, j) at b[p*rsb + j*csb]. A transposed operand is just swapped strides, so the
 * three products of backprop (X W, dY W^T, X^T dY) need no transposed copies.
 * Any m, n, k >= 0 (k == 0 gives epilogue(beta * C)); epi may be NULL (= NONE).
 * With beta == 0, C is not read (it may hold NaN); with alpha == 0, as in BLAS, A and B
 * are not read either. Uses fnn_get_num_threads() threads, read once per call.
 * `scratch` is the caller's work memory of `scratch_bytes` bytes (any alignment); the
 * call never touches a byte past it. fnn_gemm_scratch_bytes(..., threads) is enough
 * for `threads` threads; should the thread count have grown since (another thread may
 * change it at any time), the call runs on as many threads as the scratch has room
 * for. NULL (or too small for one thread) makes the call allocate and free its own.
 * Calls are safe from several threads at once (each with its own scratch); results
 * are bitwise identical for any thread count. */
void fnn_sgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
               const float *a, ptrdiff_t rsa, ptrdiff_t csa,
               const float *b, ptrdiff_t rsb, ptrdiff_t csb,
               float beta, float *c, ptrdiff_t ldc,
               const fnn_epilogue *epi, void *scratch, size_t scratch_bytes);
void fnn_dgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
               const double *a, ptrdiff_t rsa, ptrdiff_t csa,
               const double *b, ptrdiff_t rsb, ptrdiff_t csb,
               double beta, double *c, ptrdiff_t ldc,
               const fnn_epilogue *epi, void *scratch, size_t scratch_bytes);
/* B (k x n, element (p, c) at b[p*rsb + c*csb]) packed once for many products A B of
 * m-row A with A's column stride csa (fnn_net_predict: a layer's weights for all its row
 * chunks). fnn_gemm_packed_b_bytes: the buffer (64-byte aligned) fnn_gemm_pack_b needs,
 * at any SIMD level; 0 when such calls do not pack B (the direct path). fnn_gemm_pack_b
 * returns 1 when it packed, 0 when not (pass NULL then). fnn_sgemm_packed_b /
 * fnn_dgemm_packed_b: fnn_sgemm / fnn_dgemm on at most `threads` threads (0: no cap;
 * fnn_net_predict runs row chunks on the pool, each chunk's products on its thread
 * alone), reading B from packed_b where the call takes the packed path at the level and
 * shape it was packed for, B as given elsewhere (packed_b may be NULL): the same bits
 * as fnn_sgemm / fnn_dgemm either way. */
size_t fnn_gemm_packed_b_bytes(int is_double, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                               ptrdiff_t csa);
int fnn_gemm_pack_b(int is_double, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, ptrdiff_t csa,
                    const void *b, ptrdiff_t rsb, ptrdiff_t csb, void *dst, size_t bytes);
void fnn_sgemm_packed_b(int threads, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                        const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                        const float *b, ptrdiff_t rsb, ptrdiff_t csb, const void *packed_b,
                        float beta, float *c, ptrdiff_t ldc,
                        const fnn_epilogue *epi, void *scratch, size_t scratch_bytes);
void fnn_dgemm_packed_b(int threads, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                        const double *a, ptrdiff_t rsa, ptrdiff_t csa,
                        const double *b, ptrdiff_t rsb, ptrdiff_t csb, const void *packed_b,
                        double beta, double *c, ptrdiff_t ldc,
                        const fnn_epilogue *epi, void *scratch, size_t scratch_bytes);
/* Scratch a call of these sizes needs with up to `threads` threads (0 when none), at
 * any SIMD level this CPU can run; a workspace allocates it once per layer shape. */
size_t fnn_gemm_scratch_bytes(int is_double, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                              int threads);

/* ------------------------------------------------------------------ bf16 products */
/* Mixed precision as PyTorch's CPU autocast runs a matrix product: both operands rounded
 * to bfloat16, the products summed in float, C and every epilogue step in float.
 *
 * Rounding (fnn_f32_to_bf16, and every bf16 kernel): round to nearest, ties to even,
 * from the bits: (u + 0x7FFF + ((u >> 16) & 1)) >> 16; a NaN stays a (quiet) NaN, and a
 * float subnormal becomes a zero of its sign, as the CPU's own conversion
 * (vcvtneps2bf16) does and as vdpbf16ps / tdpbf16ps treat bf16 subnormals anyway, so
 * that every level multiplies the same bf16 values. bf16 -> float is exact.
 *
 * Levels (cpu/levels.mk: FNN_BF16_LEVELS), detected once (the CPU and, for AMX, the
 * OS's permission), forced lower by FASTNN_BF16=portable|avx512_bf16|amx or
 * fnn_set_bf16_level; a SIMD level below AVX-512 means portable:
 *   PORTABLE     any CPU: the float GEMM of the current SIMD level on bf16-rounded copies
 *                of A and B (float FMAs of exact bf16 products)
 *   AVX512_BF16  vdpbf16ps: 16 float lanes each add the products of a bf16 pair
 *   AMX          tdpbf16ps on 16 x 16 float tiles (Linux: tile permission granted)
 * Results agree across levels up to the order of the float sums; within a level they
 * are bitwise the same for any thread count. */
enum fnn_bf16 { FNN_BF16_PORTABLE = 0, FNN_BF16_AVX512_BF16 = 1, FNN_BF16_AMX = 2 };

int fnn_bf16_detected(void);
int fnn_bf16_level(void);
/* Force a level <= the detected one (higher is clamped down); returns the level now in
 * effect. */
int fnn_set_bf16_level(int level);

/* out[i] = bf16 bits of x[i] / x[i] rounded to bf16 and widened back (out may be x). */
void fnn_f32_to_bf16(ptrdiff_t n, const float *x, uint16_t *out);
void fnn_round_bf16_f32(ptrdiff_t n, const float *x, float *out);
void fnn_bf16_to_f32(ptrdiff_t n, const uint16_t *x, float *out);

/* fnn_sgemm (same arguments, strides, epilogue, scratch and threading contract) with A
 * and B rounded to bf16. Scratch: fnn_gemm_bf16_scratch_bytes, enough at every bf16
 * level this CPU can run. */
void fnn_sgemm_bf16(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                    const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                    const float *b, ptrdiff_t rsb, ptrdiff_t csb,
                    float beta, float *c, ptrdiff_t ldc,
                    const fnn_epilogue *epi, void *scratch, size_t scratch_bytes);
size_t fnn_gemm_bf16_scratch_bytes(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, int threads);

/* ------------------------------------------------------------------ activations */

/* x[i] = act(x[i]) for n contiguous elements (elementwise activations only). */
void fnn_act_forward_f32(int act, double param, float *x, ptrdiff_t n);
void fnn_act_forward_f64(int act, double param, double *x, ptrdiff_t n);
/* d[i] *= act'(.) for n contiguous elements: from output a[i], or input z[i] for GELU
 * (the other pointer may be NULL). */
void fnn_act_grad_f32(int act, double param, const float *a, const float *z, float *d,
                      ptrdiff_t n);
void fnn_act_grad_f64(int act, double param, const double *a, const double *z, double *d,
                      ptrdiff_t n);

/* Softmax over each of m rows of n elements (row stride ldx), in place. */
void fnn_softmax_rows_f32(ptrdiff_t m, ptrdiff_t n, float *x, ptrdiff_t ldx);
void fnn_softmax_rows_f64(ptrdiff_t m, ptrdiff_t n, double *x, ptrdiff_t ldx);
/* Softmax's Jacobian-vector product per row, in place: d = a * (d - sum(d * a)), for m
 * rows of n elements of the softmax output a (row stride lda) and d (row stride ldd). */
void fnn_softmax_grad_rows_f32(ptrdiff_t m, ptrdiff_t n, const float *a, ptrdiff_t lda,
                               float *d, ptrdiff_t ldd);
void fnn_softmax_grad_rows_f64(ptrdiff_t m, ptrdiff_t n, const double *a, ptrdiff_t lda,
                               double *d, ptrdiff_t ldd);

/* ------------------------------------------------------------------ dropout */
/* Dropout's random numbers are counter-based: element i (row-major over the batch) of
 * layer l's keep-mask at training step s is a pure function of (seed, s, l, i), so the
 * masks do not depend on the thread count and need no generator state. The NumPy twin
 * is reference.dropout_mask; the two agree bit for bit. */

#define FNN_GOLDEN UINT64_C(0x9E3779B97F4A7C15)
#define FNN_DROPOUT_BITS 24

/* SplitMix64's finaliser (spec.mix64). */
static inline uint64_t fnn_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xBF58476D1CE4E5B9);
    x ^= x >> 27;
    x *= UINT64_C(0x94D049BB133111EB);
    x ^= x >> 31;
    return x;
}

/* The key of layer `layer`'s mask at step `step` (spec.dropout_key); arithmetic mod 2^64. */
static inline uint64_t fnn_dropout_key(uint64_t seed, uint64_t step, uint64_t layer)
{
    return fnn_mix64(seed ^ fnn_mix64(step * FNN_GOLDEN + layer));
}

/* An element is kept when its 24-bit hash is >= round(rate * 2^24), ties to even
 * (spec.dropout_threshold). */
uint32_t fnn_dropout_threshold(double rate);

/* mask[i] = 1 if element `first + i` of the mask with this key is kept, else 0, for i
 * in [0, count); element e's hash is fnn_mix64(key + (e + 1) * FNN_GOLDEN) >> 40. */
void fnn_dropout_mask(uint64_t key, uint32_t threshold, ptrdiff_t first, ptrdiff_t count,
                      uint8_t *mask);
/* out[i] = x[i] * (mask[i] ? scale : 0) for count contiguous elements (out may be x). */
void fnn_dropout_apply_f32(ptrdiff_t count, const float *x, const uint8_t *mask,
                           float scale, float *out);
void fnn_dropout_apply_f64(ptrdiff_t count, const double *x, const uint8_t *mask,
                           double scale, double *out);

/* ------------------------------------------------------------------ losses */

/* The loss of the output layer and its gradient, in one pass over the rows.
 * n rows of k outputs: a is the output layer's activation, z its pre-activation (both
 * n x k, contiguous). Targets are either `labels` (n int64 class indices, meaning
 * one-hot rows) or `targets` (n x k); the other pointer is NULL. `weights` (n sample
 * weights) may be NULL. Writes grad (n x k) = dL/dz of the loss (the sum over the n
 * rows of each row's loss, divided by `denominator`: n for the mean; a data-parallel
 * worker passes the whole batch's size), and *loss = that value (without
 * regularization), summed in double in row order.
 * softmax + cross_entropy / kl_divergence and sigmoid + binary_cross_entropy are fused
 * (gradient straight from the logits: no inf or NaN for finite input); every other
 * pair multiplies dL/da by act'. Same formulas as reference.loss_terms.
 * Returns 0, or -1 when a label is outside [0, k) (then nothing is written), or -2 for
 * an unknown loss code. */
int fnn_loss_grad_f32(int loss, double loss_param, int act, double act_param,
                      ptrdiff_t n, ptrdiff_t k, const float *a, const float *z,
                      const int64_t *labels, const float *targets, const float *weights,
                      double denominator, float *grad, double *loss_out);
int fnn_loss_grad_f64(int loss, double loss_param, int act, double act_param,
                      ptrdiff_t n, ptrdiff_t k, const double *a, const double *z,
                      const int64_t *labels, const double *targets, const double *weights,
                      double denominator, double *grad, double *loss_out);

/* A training metric's sum over n rows of outputs (n x k, contiguous) against labels or
 * targets (as fnn_loss_grad_*), added to *sum (in double, rows in order); the mean is
 * that sum over the rows seen. Per row: ACCURACY 1 when the argmax of the outputs (the
 * first maximum; NaN counts as the largest) equals the label, or the argmax of the
 * target row; BINARY_ACCURACY the fraction of outputs on the same side of 0.5 as their
 * targets; MSE / MAE the mean over the outputs of the squared / absolute error (labels
 * count as one-hot rows when k > 1, as the value itself when k == 1). Same definitions
 * as reference.metric_sum. Returns 0, or -2 for an unknown metric code. */
int fnn_metric_sum_f32(int metric, ptrdiff_t n, ptrdiff_t k, const float *out,
                       const int64_t *labels, const float *targets, double *sum);
int fnn_metric_sum_f64(int metric, ptrdiff_t n, ptrdiff_t k, const double *out,
                       const int64_t *labels, const double *targets, double *sum);

/* ------------------------------------------------------------------ optimizers */

/* One update rule (spec.StepSpec); the learning rate and step count come per call. */
typedef struct fnn_step_spec {
    int kind;             /* enum fnn_opt */
    int nesterov;         /* SGD with momentum */
    double momentum;      /* SGD, RMSprop */
    double beta1, beta2;  /* Adam, AdamW */
    double eps;           /* Adam, AdamW, RMSprop, Adagrad */
    double rho;           /* RMSprop */
    double weight_decay;  /* AdamW (decoupled) */
    double clipnorm;      /* > 0: scale the gradient to norm <= clipnorm first */
} fnn_step_spec;

/* How many state arrays the rule keeps (spec.StepSpec.n_states). */
int fnn_step_n_states(const fnn_step_spec *spec);

/* One optimizer step, in place, over the [start, stop) ranges segments[2s], segments[2s+1]
 * (increasing, non-overlapping) of the flat buffers params, grads and states[0..] (each
 * as long as params; fnn_step_n_states of them). t >= 1 is the step count (Adam's bias
 * correction). With clipnorm, the L2 norm over all segments is summed in double over
 * fixed chunks in a fixed order. One fused pass (two with clipnorm), threads over fixed
 * chunks: the result does not depend on the thread count. */
void fnn_step_f32(const fnn_step_spec *spec, float *params, const float *grads,
                  float *const *states, const int64_t *segments, ptrdiff_t n_segments,
                  double lr, int64_t t);
void fnn_step_f64(const fnn_step_spec *spec, double *params, const double *grads,
                  double *const *states, const int64_t *segments, ptrdiff_t n_segments,
                  double lr, int64_t t);
/* The L2 norm over the segments, as the clipnorm of fnn_step_* computes it. */
double fnn_grad_norm_f32(const float *grads, const int64_t *segments, ptrdiff_t n_segments);
double fnn_grad_norm_f64(const double *grads, const int64_t *segments, ptrdiff_t n_segments);

/* ------------------------------------------------------------------ networks */

/* One layer, as fastnn/backends/spec.py's LayerSpec. */
typedef struct fnn_layer {
    int kind;             /* enum fnn_layer_kind */
    int act;              /* enum fnn_act */
    double act_param;
    ptrdiff_t n_in, n_out;
    ptrdiff_t w_offset;   /* into the flat parameter buffer; W is n_in x n_out row-major */
    ptrdiff_t b_offset;   /* -1: no bias */
    double rate;          /* Dropout */
    double l1, l2;        /* kernel regularizer */
    int trainable;
    int precision;        /* enum fnn_precision: its forward and backward products */
} fnn_layer;

/* A network: its layers in order. Parameters live in one flat buffer (params) laid out
 * as the layers' offsets say; gradients in another with the same layout. */
typedef struct fnn_net {
    const fnn_layer *layers;
    int n_layers;
} fnn_net;

/* The buffers of one (network, batch size), allocated once by the caller and reused by
 * every batch (spec.Workspace): pointers only, nothing is allocated per call. */
typedef struct fnn_workspace {
    ptrdiff_t batch;      /* rows every buffer holds */
    void *const *acts;    /* [n_layers]: layer i's output, batch x n_out, contiguous */
    void *const *pres;    /* [n_layers]: pre-activation where kept (spec.NetSpec
                             .keeps_preactivation: GELU layers and the last), else NULL */
    uint8_t *const *masks; /* [n_layers]: a Dropout layer's keep-mask, batch x n_out */
    void *dout;           /* batch x n_out of the last layer: dL/dz from the loss */
    void *delta[2];       /* two buffers of batch x max(n_out): gradients flowing down */
    void *scratch;        /* GEMM scratch, 64-byte aligned, scratch_bytes long */
    size_t scratch_bytes;
    /* Where fnn_net_train_step_* gathers a batch given as row indices: batch x n_in,
     * batch labels, batch x n_out targets, batch weights (NULL where not needed). */
    void *gather_x;
    int64_t *gather_labels;
    void *gather_targets;
    void *gather_weights;
} fnn_workspace;

/* Scratch that fnn_net_forward/backward need for batches of up to `batch` rows with
 * `threads` threads: the largest fnn_gemm_scratch_bytes of the net's products. */
size_t fnn_net_scratch_bytes(const fnn_net *net, int is_double, ptrdiff_t batch,
                             int threads);

/* Forward pass of n <= ws->batch rows of x (n x n_in, contiguous), keeping every
 * layer's output, the pre-activations where kept, and (with training) the Dropout
 * masks of step `step`. Dense layer: one GEMM with bias + activation in its epilogue
 * (softmax: bias only, then a row pass). Dropout without training (or rate 0): a copy. */
void fnn_net_forward_f32(const fnn_net *net, const float *params, const float *x,
                         ptrdiff_t n, const fnn_workspace *ws, int training,
                         uint64_t seed, uint64_t step);
void fnn_net_forward_f64(const fnn_net *net, const double *params, const double *x,
                         ptrdiff_t n, const fnn_workspace *ws, int training,
                         uint64_t seed, uint64_t step);

/* The loss of the last forward pass of n rows, plus the regularization penalty
 * (sum over Dense layers of l1 |W| + l2 W^2, in double), into *loss_out; writes
 * ws->dout = dL/dz of the last layer. Targets as fnn_loss_grad_*. Returns its codes,
 * or -3 when the last layer is not Dense (no pre-activation to start from). */
int fnn_net_loss_grad_f32(const fnn_net *net, int loss, double loss_param,
                          const float *params, const fnn_workspace *ws, ptrdiff_t n,
                          const int64_t *labels, const float *targets,
                          const float *weights, double *loss_out);
int fnn_net_loss_grad_f64(const fnn_net *net, int loss, double loss_param,
                          const double *params, const fnn_workspace *ws, ptrdiff_t n,
                          const int64_t *labels, const double *targets,
                          const double *weights, double *loss_out);
/* The regularization penalty alone. */
double fnn_net_penalty_f32(const fnn_net *net, const float *params);
double fnn_net_penalty_f64(const fnn_net *net, const double *params);

/* Backward pass from ws->dout over the n rows of the last forward (x its input): writes
 * dW = X^T dZ (+ the regularizer's gradient) and db = column sums of dZ (in row order)
 * into grads for every trainable Dense layer; frozen layers' gradients are untouched.
 * dX = dZ W^T carries the lower layer's activation derivative in its GEMM epilogue. It
 * stops at the lowest trainable layer. Uses ws->delta as its ping-pong buffers. */
void fnn_net_backward_f32(const fnn_net *net, const float *params, float *grads,
                          const fnn_workspace *ws, const float *x, ptrdiff_t n);
void fnn_net_backward_f64(const fnn_net *net, const double *params, double *grads,
                          const fnn_workspace *ws, const double *x, ptrdiff_t n);

/* One training step (fnn_net_train_step_*): the batch, the loss, the optimizer and the
 * metrics. Pointers have the net's element type where they say void. */
typedef struct fnn_train_step {
    /* The batch: n rows (1 <= n <= ws->batch). Without `rows`, x (n x n_in) and the
     * targets (labels or targets, as fnn_loss_grad_*) and weights (or NULL) are the
     * batch itself; with `rows` (n indices into [0, n_data)) they are a data set of
     * n_data rows, and the step gathers the batch's rows into ws->gather_*. */
    ptrdiff_t n;
    const void *x;
    const int64_t *labels;
    const void *targets;
    const void *weights;
    const int64_t *rows;
    ptrdiff_t n_data;
    /* The loss and Dropout's masks (those of step `dropout_step`). */
    int loss;
    double loss_param;
    uint64_t seed, dropout_step;
    /* The optimizer: fnn_step_* on params, grads, states and segments, lr, t. */
    const fnn_step_spec *opt;
    void *params;
    void *grads;
    void *const *states;
    const int64_t *segments;
    ptrdiff_t n_segments;
    double lr;
    int64_t t;
    /* Metrics (enum fnn_metric) whose batch sums are added to totals[0..n_metrics). */
    const int *metrics;
    int n_metrics;
    double *totals;
    /* When these n rows are one worker's part of a larger batch (data-parallel
     * training): they start at row `row_offset` of that batch (Dropout draws the masks
     * of those rows), the loss and its gradient are divided by `denominator` (the whole
     * batch's size), and `skip_penalty` leaves the regularization penalty to another
     * worker. All zero (one process): offset 0, denominator n, penalty included. */
    ptrdiff_t row_offset;
    double denominator;
    int skip_penalty;
} fnn_train_step;

/* One training step: (gather,) forward in training mode, loss + penalty into *loss_out
 * (as row_offset, denominator and skip_penalty say), and only when that loss is finite:
 * the metrics, backward and the optimizer update.
 * A non-finite loss leaves params, grads, states and totals untouched (the caller
 * decides what divergence means). Without clipnorm, and when the segments are the
 * net's own (its trainable Dense layers' ranges, adjacent ones merged, as
 * spec.NetSpec.segments), each layer is updated as soon as backprop has its gradient
 * and has used its weights; otherwise after backprop. Returns 0, a code of
 * fnn_net_loss_grad_*, -2 for an unknown metric, or -4 when a row index is outside
 * [0, n_data) (in both cases before anything is written). Nothing is allocated;
 * results are the same bits for any thread count, and the same as fnn_net_forward +
 * fnn_net_loss_grad + fnn_metric_sum + fnn_net_backward + fnn_step. */
int fnn_net_train_step_f32(const fnn_net *net, const fnn_workspace *ws,
                           const fnn_train_step *step, double *loss_out);
int fnn_net_train_step_f64(const fnn_net *net, const fnn_workspace *ws,
                           const fnn_train_step *step, double *loss_out);

/* The training step without the update (what data-parallel training runs before it
 * reduces the gradients across workers): gather, forward, loss into *loss_out, and
 * when that loss is finite the metrics and backward into step->grads. The optimizer
 * fields of `step` are not read. fnn_net_train_step's bits are those of this call
 * followed by fnn_step_* over step->segments. Same return codes. */
int fnn_net_gradients_f32(const fnn_net *net, const fnn_workspace *ws,
                          const fnn_train_step *step, double *loss_out);
int fnn_net_gradients_f64(const fnn_net *net, const fnn_workspace *ws,
                          const fnn_train_step *step, double *loss_out);

/* A good number of rows for predict to push through the whole net at a time: every
 * layer's activations of a chunk stay in L1/L2. */
#define FNN_PREDICT_CHUNK 256
/* Scratch fnn_net_predict_* needs for chunks of `rows` rows with `threads` threads. */
size_t fnn_net_predict_scratch_bytes(const fnn_net *net, int is_double, ptrdiff_t rows,
                                     int threads);
/* out (n x n_out) = the network's output for the n rows of x, Dropout off, `chunk`
 * (>= 1) rows at a time. Keeps nothing: `scratch` (64-byte aligned, scratch_bytes long,
 * at least fnn_net_predict_scratch_bytes for min(n, chunk) rows) is the caller's, so
 * calls may run concurrently. Each chunk of x is checked as it is reached: returns -1,
 * or the first row holding a NaN or infinity (out is then unfinished). */
ptrdiff_t fnn_net_predict_f32(const fnn_net *net, const float *params, const float *x,
                              ptrdiff_t n, ptrdiff_t chunk, float *out, void *scratch,
                              size_t scratch_bytes);
ptrdiff_t fnn_net_predict_f64(const fnn_net *net, const double *params, const double *x,
                              ptrdiff_t n, ptrdiff_t chunk, double *out, void *scratch,
                              size_t scratch_bytes);

#ifdef __cplusplus
}
#endif
#endif /* FASTNN_H */
