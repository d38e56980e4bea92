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

enum fnn_simd { FNN_SIMD_SCALAR = 0, FNN_SIMD_AVX2 = 1, FNN_SIMD_AVX512 = 2 };

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
 * are not read either. Uses fnn_get_num_threads() threads.
 * `scratch` (may be NULL: then the call allocates and frees its own) must hold
 * fnn_gemm_scratch_bytes(...) bytes for at least the thread count in effect at the
 * call, 64-byte aligned. Calls are safe from several threads at once (each with its
 * own scratch); results are bitwise identical for any thread count. */
void fnn_sgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
               const float *a, ptrdiff_t rsa, ptrdiff_t csa,
               const float *b, ptrdiff_t rsb, ptrdiff_t csb,
               float beta, float *c, ptrdiff_t ldc,
               const fnn_epilogue *epi, void *scratch);
void fnn_dgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
               const double *a, ptrdiff_t rsa, ptrdiff_t csa,
               const double *b, ptrdiff_t rsb, ptrdiff_t csb,
               double beta, double *c, ptrdiff_t ldc,
               const fnn_epilogue *epi, void *scratch);
/* Scratch a call of these sizes needs with up to `threads` threads (0 when none), at
 * any SIMD level this CPU can run; a workspace allocates it once per layer shape. */
size_t fnn_gemm_scratch_bytes(int is_double, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                              int threads);

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
} fnn_layer;

/* The network-level API (forward, loss + gradient, backward, optimizer step, predict)
 * is declared below by the native-backend work. */

#ifdef __cplusplus
}
#endif
#endif /* FASTNN_H */
