/*
 * bf16_round.c - the elementwise bf16 conversions of fastnn.h (bf16_from_bits over an
 * array; the compiler vectorises the loops).
 */
#include "gemm/bf16.h"

void fnn_round_bf16_f32(ptrdiff_t n, const float *x, float *out)
{
    for (ptrdiff_t i = 0; i < n; i++)
        out[i] = bf16_to_f32(bf16_from_f32(x[i]));
}

void fnn_f32_to_bf16(ptrdiff_t n, const float *x, uint16_t *out)
{
    for (ptrdiff_t i = 0; i < n; i++)
        out[i] = bf16_from_f32(x[i]);
}

void fnn_bf16_to_f32(ptrdiff_t n, const uint16_t *x, float *out)
{
    for (ptrdiff_t i = 0; i < n; i++)
        out[i] = bf16_to_f32(x[i]);
}
