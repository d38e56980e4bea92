/*
 * gemm_bf16_store_avx512bf16.c - the float epilogue of a finished bf16 tile (AVX-512;
 * called only from the AVX512-BF16 and AMX kernels, which run only on CPUs with it).
 * The same store as the float AVX-512 kernels' (zmm_store_f32, gemm_avx512.h), so both
 * precisions apply alpha, beta, bias, the pre-activation copy and the activation alike.
 */
#include "bf16.h"
#include "gemm_avx512.h"

void gemm_bf16_tile_out(const float *tile, int ld, int rows, int cols, const gemm_out *o,
                        ptrdiff_t i, ptrdiff_t j)
{
    if (o->mode == FNN_EPI_NONE && o->alpha == 1 && o->beta == 0) { /* C = the sums */
        float *c = (float *)o->c + i * o->ldc + j;
        for (int r = 0; r < rows; r++, c += o->ldc, tile += ld)
            for (int q = 0; q < cols; q += 16)
                _mm512_mask_storeu_ps(c + q, zmm_mask16(cols - q), _mm512_loadu_ps(tile + q));
        return;
    }
    const simd_store st = simd_store_of(o, i, j);
    for (int r = 0; r < rows; r++)
        for (int q = 0; q < cols; q += 16)
            zmm_store_f32(&st, r, q, _mm512_loadu_ps(tile + r * ld + q), zmm_mask16(cols - q));
    if (o->mode != FNN_EPI_NONE && !gemm_act_in_register(o->act))
        gemm_finish_rows(o, i, j, rows, cols);
}
