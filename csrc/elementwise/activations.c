/*
 * activations.c - activation functions and their derivatives (float and double).
 *
 * The elementwise ones are fnn_act_forward_* / fnn_act_grad_* (fastnn.h): each call runs
 * the loops of activations_loops.inc that the level in use compiled (fnn_cpu(),
 * cpu/cpu.h). The GEMM's epilogues call them on rows of its output tile. Softmax is not
 * elementwise: its row passes are softmax.c.
 */
#include "cpu/cpu.h"
#include "fastnn.h"

void fnn_act_forward_f32(int act, double param, float *x, ptrdiff_t n)
{
    if (act != FNN_ACT_LINEAR && act != FNN_ACT_SOFTMAX && n > 0)
        fnn_cpu()->act_forward_f32(act, param, x, n);
}

void fnn_act_forward_f64(int act, double param, double *x, ptrdiff_t n)
{
    if (act != FNN_ACT_LINEAR && act != FNN_ACT_SOFTMAX && n > 0)
        fnn_cpu()->act_forward_f64(act, param, x, n);
}

void fnn_act_grad_f32(int act, double param, const float *a, const float *z, float *d,
                      ptrdiff_t n)
{
    if (act != FNN_ACT_LINEAR && act != FNN_ACT_SOFTMAX && n > 0)
        fnn_cpu()->act_grad_f32(act, param, a, z, d, n);
}

void fnn_act_grad_f64(int act, double param, const double *a, const double *z, double *d,
                      ptrdiff_t n)
{
    if (act != FNN_ACT_LINEAR && act != FNN_ACT_SOFTMAX && n > 0)
        fnn_cpu()->act_grad_f64(act, param, a, z, d, n);
}
