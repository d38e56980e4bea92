/*
 * activations_isa.h - the per-ISA builds of the activation loops (internal; see
 * dispatch.h). activations_loops.inc is compiled by activations.c (baseline),
 * activations_avx2.c and activations_avx512.c.
 */
#ifndef FASTNN_ACTIVATIONS_ISA_H
#define FASTNN_ACTIVATIONS_ISA_H

#include <stddef.h>

#include "common/templates.h"

#define FNN_ACT_PROTOTYPES(isa)                                                         \
    void fnn_act_forward_f32_##isa(int act, double param, float *x, ptrdiff_t n);       \
    void fnn_act_forward_f64_##isa(int act, double param, double *x, ptrdiff_t n);      \
    void fnn_act_grad_f32_##isa(int act, double param, const float *a, const float *z,  \
                                float *d, ptrdiff_t n);                                 \
    void fnn_act_grad_f64_##isa(int act, double param, const double *a, const double *z, \
                                double *d, ptrdiff_t n);
FNN_DECLARE_ISA_BUILDS(FNN_ACT_PROTOTYPES)
#undef FNN_ACT_PROTOTYPES

#endif /* FASTNN_ACTIVATIONS_ISA_H */
