/*
 * gemm_f64_avx2.c - double kernels for AVX2 + FMA (16 ymm registers), from the
 * template gemm_simd_kernel.inc:
 *
 *   packed   6 x 8: 12 ymm accumulators, 2 loads + 6 broadcasts per 12 FMAs
 *   strided  r x 8 for r = 4..6 rows; 1 and 2 rows take 16 columns and 3 rows 12
 *   half     1 x 8, 2 x 8;  panel  r x 8 for every r, from 8-wide B panels
 *   narrow   r x 4 for a last strip of at most 4 columns
 */
#include "gemm/gemm_avx2.h"

#define T double
#define VEC __m256d
#define LANES 4
#define MASK __m256i
#define V_ZERO() _mm256_setzero_pd()
#define V_SET1(x) _mm256_set1_pd(x)
#define V_FMA(a, b, acc) _mm256_fmadd_pd(a, b, acc)
#define V_LOAD(p) _mm256_loadu_pd(p)
#define V_LOAD_MASKED(m, p) _mm256_maskload_pd(p, m)
#define V_MASK(n) ymm_mask4(n)
#define V_STORE(st, r, col, acc, n) ymm_store_f64(st, r, col, acc, n)
#define V_STORE_RAW(p, acc, n) ymm_storen_pd(p, acc, n)
#define V_STORE_OF(o, i, j) simd_store_of(o, i, j)
#define PACKED_MR 6
#define PACKED_NV 2
#define GEMV_NV 4
#include "gemm/gemm_simd_kernel.inc"

STRIDED(1, 4)
STRIDED(1, 2)
STRIDED(2, 4)
STRIDED(2, 2)
STRIDED(3, 3)
STRIDED(4, 2)
STRIDED(5, 2)
STRIDED(6, 2)
STRIDED(3, 2)
STRIDED(1, 1)
STRIDED(2, 1)
STRIDED(3, 1)
STRIDED(4, 1)
STRIDED(5, 1)
STRIDED(6, 1)

/* Blocks for AVX2-era cores, the same bytes as the float32 table (see gemm_f32_avx2.c):
 * an A micro-panel of 6 x 512 x 8 B = 24 KiB stays in L1, one K block for layers up to
 * 512 inputs. 1024^3 on Zen 3, 1 thread: 35 GFLOP/s with KC 256/NC 512/MC 144, 45 here. */
const gemm_kernels gemm_kernels_f64_avx2 = {
    .name = "avx2",
    .elsize = sizeof(T),
    .mr = PACKED_MR, .nr = PACKED_NR, .mc = 72, .kc = 512, .nc = 1024,
    .packed = packed_kernel,
    .pack = gemm_pack_avx2_f64,
    .strided_rows = 6,
    .strided_cols = {0, 16, 16, 12, 8, 8, 8},
    .strided = {NULL, strided_1x4, strided_2x4, strided_3x3, strided_4x2, strided_5x2,
                strided_6x2},
    .panel = {NULL, strided_1x2, strided_2x2, strided_3x2, strided_4x2, strided_5x2,
              strided_6x2},
    .direct_b_bytes = 1 << 19,
    .gemv = gemv_row,
    .half = {NULL, strided_1x2, strided_2x2},
    .narrow_cols = 4,
    .narrow = {NULL, strided_1x1, strided_2x1, strided_3x1, strided_4x1, strided_5x1,
               strided_6x1},
};
