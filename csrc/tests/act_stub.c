/*
 * act_stub.c - stand-ins for the elementwise activations of fastnn.h (LINEAR and RELU
 * only), so the C-only GEMM test links in a tree that does not have
 * csrc/activations*.c yet. Never part of the Python extension; the build of the test
 * uses this file only when those sources are absent.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fastnn.h"

static void unsupported(int act)
{
    fprintf(stderr, "act_stub: activation %d is not stubbed\n", act);
    abort();
}

void fnn_act_forward_f32(int act, double param, float *x, ptrdiff_t n)
{
    (void)param;
    if (act == FNN_ACT_RELU) {
        for (ptrdiff_t i = 0; i < n; i++)
            x[i] = x[i] < 0 ? 0.0f : x[i];
    } else if (act != FNN_ACT_LINEAR) {
        unsupported(act);
    }
}

void fnn_act_forward_f64(int act, double param, double *x, ptrdiff_t n)
{
    (void)param;
    if (act == FNN_ACT_RELU) {
        for (ptrdiff_t i = 0; i < n; i++)
            x[i] = x[i] < 0 ? 0.0 : x[i];
    } else if (act != FNN_ACT_LINEAR) {
        unsupported(act);
    }
}

void fnn_act_grad_f32(int act, double param, const float *a, const float *z, float *d,
                      ptrdiff_t n)
{
    (void)param, (void)z;
    if (act == FNN_ACT_RELU) {
        for (ptrdiff_t i = 0; i < n; i++)
            d[i] = a[i] > 0 ? d[i] : 0.0f;
    } else if (act != FNN_ACT_LINEAR) {
        unsupported(act);
    }
}

void fnn_act_grad_f64(int act, double param, const double *a, const double *z, double *d,
                      ptrdiff_t n)
{
    (void)param, (void)z;
    if (act == FNN_ACT_RELU) {
        for (ptrdiff_t i = 0; i < n; i++)
            d[i] = a[i] > 0 ? d[i] : 0.0;
    } else if (act != FNN_ACT_LINEAR) {
        unsupported(act);
    }
}
