/*
 * gemm_epilogue.c - the part of the GEMM epilogue that is not in a kernel's register
 * store: activations other than LINEAR/RELU, applied to each finished row segment of a
 * tile through the elementwise kernels of fastnn.h.
 */
#include "gemm/gemm.h"

static void finish_rows_f32(const gemm_out *o, ptrdiff_t i, ptrdiff_t j, ptrdiff_t rows,
                            ptrdiff_t cols)
{
    float *c = (float *)o->c + i * o->ldc + j;
    const float *aux = (const float *)o->aux;
    for (ptrdiff_t r = 0; r < rows; r++, c += o->ldc) {
        if (o->mode == FNN_EPI_FORWARD) {
            fnn_act_forward_f32(o->act, o->act_param, c, cols);
        } else {
            const float *g = aux + (i + r) * o->ld_aux + j;
            int from_input = o->act == FNN_ACT_GELU;
            fnn_act_grad_f32(o->act, o->act_param, from_input ? NULL : g, from_input ? g : NULL,
                             c, cols);
        }
    }
}

static void finish_rows_f64(const gemm_out *o, ptrdiff_t i, ptrdiff_t j, ptrdiff_t rows,
                            ptrdiff_t cols)
{
    double *c = (double *)o->c + i * o->ldc + j;
    const double *aux = (const double *)o->aux;
    for (ptrdiff_t r = 0; r < rows; r++, c += o->ldc) {
        if (o->mode == FNN_EPI_FORWARD) {
            fnn_act_forward_f64(o->act, o->act_param, c, cols);
        } else {
            const double *g = aux + (i + r) * o->ld_aux + j;
            int from_input = o->act == FNN_ACT_GELU;
            fnn_act_grad_f64(o->act, o->act_param, from_input ? NULL : g, from_input ? g : NULL,
                             c, cols);
        }
    }
}

void gemm_finish_rows(const gemm_out *o, ptrdiff_t i, ptrdiff_t j, ptrdiff_t rows,
                      ptrdiff_t cols)
{
    if (o->mode == FNN_EPI_NONE || gemm_act_in_register(o->act))
        return;
    if (o->elsize == 4)
        finish_rows_f32(o, i, j, rows, cols);
    else
        finish_rows_f64(o, i, j, rows, cols);
}
