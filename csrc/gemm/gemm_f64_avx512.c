/*
 * gemm_f64_avx512.c - double kernels for AVX-512F, from the template
 * gemm_simd_kernel.inc (the float file explains the shapes):
 *
 *   packed   8 x 16: 16 zmm accumulators, 2 loads + 8 broadcasts per 16 FMAs; 8 x 24
 *            where N is nearly a multiple of 24 (1024^3 ~5 % faster)
 *   strided  r x 16 for r = 4..8 rows, 3 x 24, 2 x 64, 1 x 128
 *   half     1 x 64, 2 x 32;  panel  r x 16 for every r, from 16-wide B panels
 *   narrow   r x 8 for a last strip of at most 8 columns
 *   columns  gemm_columns_avx512.c, for narrow C when A's columns are contiguous
 */
#include "gemm/gemm_avx512.h"

#define T double
#define VEC __m512d
#define LANES 8
#define MASK __mmask8
#define V_ZERO() _mm512_setzero_pd()
#define V_SET1(x) _mm512_set1_pd(x)
#define V_FMA(a, b, acc) _mm512_fmadd_pd(a, b, acc)
#define V_LOAD(p) _mm512_loadu_pd(p)
#define V_LOAD_MASKED(m, p) _mm512_maskz_loadu_pd(m, p)
#define V_MASK(n) zmm_mask8(n)
#define V_STORE(st, r, col, acc, n) zmm_store_f64(st, r, col, acc, zmm_mask8(n))
#define V_STORE_RAW(p, acc, n) _mm512_mask_storeu_pd(p, zmm_mask8(n), acc)
#define V_STORE_OF(o, i, j) simd_store_of(o, i, j)
#define PACKED_MR 8
#define PACKED_NV 2
#define PACKED_WIDE_NV 3
#define GEMV_NV 16
#include "gemm/gemm_simd_kernel.inc"

STRIDED(1, 16)
STRIDED(1, 8)
STRIDED(2, 8)
STRIDED(2, 4)
STRIDED(3, 3)
STRIDED(4, 2)
STRIDED(5, 2)
STRIDED(6, 2)
STRIDED(7, 2)
STRIDED(8, 2)
STRIDED(1, 2)
STRIDED(2, 2)
STRIDED(3, 2)
STRIDED(1, 1)
STRIDED(2, 1)
STRIDED(3, 1)
STRIDED(4, 1)
STRIDED(5, 1)
STRIDED(6, 1)
STRIDED(7, 1)
STRIDED(8, 1)

/* As for float, with 8-byte elements: an A micro-panel is 8 x KC x 8 B = 16 KiB at
 * KC 256 (L1), a B micro-panel KC x 16 x 8 B = 32 KiB, the KC x NC block of B 1 MiB at
 * NC 512 (L2; NC 1024, a 2 MiB block, measured 10 % slower on a 2 MiB L2). */
const gemm_kernels gemm_kernels_f64_avx512 = {
    .name = "avx512",
    .elsize = 8,
    .mr = PACKED_MR, .nr = PACKED_NR, .mc = 144, .kc = 256, .nc = 512,
    .packed = packed_kernel,
    .nr_wide = PACKED_WIDE_NV * LANES,
    .packed_wide = packed_wide_kernel,
    .pack = gemm_pack_avx512_f64,
    .strided_rows = 8,
    .strided_cols = {0, 128, 64, 24, 16, 16, 16, 16, 16},
    .strided = {NULL, strided_1x16, strided_2x8, strided_3x3, strided_4x2, strided_5x2,
                strided_6x2, strided_7x2, strided_8x2},
    .panel = {NULL, strided_1x2, strided_2x2, strided_3x2, strided_4x2, strided_5x2,
              strided_6x2, strided_7x2, strided_8x2},
    .direct_b_bytes = 1 << 20,
    .gemv = gemv_row,
    .half = {NULL, strided_1x8, strided_2x4},
    .narrow_cols = 8,
    .narrow = {NULL, strided_1x1, strided_2x1, strided_3x1, strided_4x1, strided_5x1,
               strided_6x1, strided_7x1, strided_8x1},
    .columns_max = 8, .columns_rows = 16,
    .columns = gemm_columns_f64_avx512,
};
