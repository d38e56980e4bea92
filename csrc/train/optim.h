/*
 * optim_isa.h - the per-ISA builds of the optimizer loops (internal; see dispatch.h).
 * optim_loops.inc is compiled by optim.c (baseline), optim_avx2.c and optim_avx512.c.
 */
#ifndef FASTNN_OPTIM_ISA_H
#define FASTNN_OPTIM_ISA_H

#include <stddef.h>
#include <stdint.h>

#include "common/templates.h"

/* One step's coefficients in the element type, computed once per step exactly as
 * reference.apply_rule computes them (NumPy scalar arithmetic in that type). */
#define FNN_STEP_COEF(T, SFX)                                                           \
    typedef struct fnn_step_coef_##SFX {                                                \
        int kind, nesterov, momentum_on;                                                \
        T lr, scale;          /* scale: the clipnorm factor (1 without clipping) */     \
        T momentum;                                                                     \
        T beta1, beta2, one_minus_beta1, one_minus_beta2;                               \
        T adam_step, decay;   /* decay = lr * weight_decay */                           \
        T rho, one_minus_rho, eps;                                                      \
    } fnn_step_coef_##SFX;
FNN_STEP_COEF(float, f32)
FNN_STEP_COEF(double, f64)
#undef FNN_STEP_COEF

#define FNN_OPTIM_PROTOTYPES(isa)                                                       \
    void fnn_step_update_f32_##isa(const fnn_step_coef_f32 *c, ptrdiff_t len, float *p, \
                                   const float *g, float *s0, float *s1);               \
    void fnn_step_update_f64_##isa(const fnn_step_coef_f64 *c, ptrdiff_t len,           \
                                   double *p, const double *g, double *s0, double *s1); \
    double fnn_sum_squares_f32_##isa(const float *x, ptrdiff_t len);                    \
    double fnn_sum_squares_f64_##isa(const double *x, ptrdiff_t len);                   \
    double fnn_sum_abs_f32_##isa(const float *x, ptrdiff_t len);                        \
    double fnn_sum_abs_f64_##isa(const double *x, ptrdiff_t len);
FNN_DECLARE_ISA_BUILDS(FNN_OPTIM_PROTOTYPES)
#undef FNN_OPTIM_PROTOTYPES

/* Sums over the concatenated [start, stop) segments of a flat buffer, in double, over
 * fixed chunks in a fixed order (threads take whole chunks): the same bits for any
 * thread count. Used by clipnorm and by the regularization penalty (net.c). */
double fnn_sum_squares_segments_f32(const float *x, const int64_t *segments, ptrdiff_t n);
double fnn_sum_squares_segments_f64(const double *x, const int64_t *segments, ptrdiff_t n);
double fnn_sum_abs_segments_f32(const float *x, const int64_t *segments, ptrdiff_t n);
double fnn_sum_abs_segments_f64(const double *x, const int64_t *segments, ptrdiff_t n);

#endif /* FASTNN_OPTIM_ISA_H */
