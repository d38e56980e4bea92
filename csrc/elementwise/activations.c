/*
 * activations.c - activation functions and their derivatives (float and double).
 *
 * The elementwise ones are fnn_act_forward_* / fnn_act_grad_* (fastnn.h): each call
 * goes to the loops of activations_loops.inc compiled for the best ISA that
 * fnn_simd_level() allows. The GEMM's epilogues call them on rows of its output tile.
 * Softmax is not elementwise; its row passes live here too.
 */
#include <math.h>

#include "elementwise/activations_isa.h"
#include "fastnn.h"
#include "elementwise/vmath.h"

/* The baseline build of the loops. */
#define FNN_ISA base

#define FNN_TEMPLATE "elementwise/activations_loops.inc"
#include "common/instantiate.inc"

/* ------------------------------------------------------------------ dispatch */

void fnn_act_forward_f32(int act, double param, float *x, ptrdiff_t n)
{
    if (act != FNN_ACT_LINEAR && act != FNN_ACT_SOFTMAX && n > 0)
        FNN_DISPATCH(fnn_act_forward_f32, act, param, x, n);
}

void fnn_act_forward_f64(int act, double param, double *x, ptrdiff_t n)
{
    if (act != FNN_ACT_LINEAR && act != FNN_ACT_SOFTMAX && n > 0)
        FNN_DISPATCH(fnn_act_forward_f64, act, param, x, n);
}

void fnn_act_grad_f32(int act, double param, const float *a, const float *z, float *d,
                      ptrdiff_t n)
{
    if (act != FNN_ACT_LINEAR && act != FNN_ACT_SOFTMAX && n > 0)
        FNN_DISPATCH(fnn_act_grad_f32, act, param, a, z, d, n);
}

void fnn_act_grad_f64(int act, double param, const double *a, const double *z, double *d,
                      ptrdiff_t n)
{
    if (act != FNN_ACT_LINEAR && act != FNN_ACT_SOFTMAX && n > 0)
        FNN_DISPATCH(fnn_act_grad_f64, act, param, a, z, d, n);
}

/* ------------------------------------------------------------------ softmax rows */

#define FNN_TEMPLATE "elementwise/softmax.inc"
#include "common/instantiate.inc"
