/*
 * optim.h - what the optimizer's parts share (internal): the coefficients of one step,
 * which optim.c computes and the per-CPU rules (optim_loops.inc) read, and the segment
 * sums that net.c's regularization penalty uses too.
 */
#ifndef FASTNN_OPTIM_H
#define FASTNN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

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

/* Sums over the concatenated [start, stop) segments of a flat buffer, in double, over
 * fixed chunks in a fixed order (threads take whole chunks): the same bits for any
 * thread count. Used by clipnorm and by the regularization penalty (net.c). */
double fnn_sum_squares_segments_f32(const float *x, const int64_t *segments, ptrdiff_t n);
double fnn_sum_squares_segments_f64(const double *x, const int64_t *segments, ptrdiff_t n);
double fnn_sum_abs_segments_f32(const float *x, const int64_t *segments, ptrdiff_t n);
double fnn_sum_abs_segments_f64(const double *x, const int64_t *segments, ptrdiff_t n);

#endif /* FASTNN_OPTIM_H */
