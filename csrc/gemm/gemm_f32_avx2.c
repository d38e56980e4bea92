/*
 * gemm_f32_avx2.c - float kernels for AVX2 + FMA (16 ymm registers), from the
 * template gemm_simd_kernel.inc:
 *
 *   packed   6 x 16: 12 ymm accumulators, per k step 2 loads of B + 6 broadcasts of A for 12
 *            FMAs (BLIS haswell's 6 x 16)
 *   strided  r x 16 for r = 4..6 rows; 1 and 2 rows take 32 columns and 3 rows 24
 *   half     1 x 16, 2 x 16;  panel  r x 16 for every r, from 16-wide B panels
 *   narrow   r x 8 for a last strip of at most 8 columns
 */
#include "gemm/gemm_avx2.h"

#define T float
#define VEC __m256
#define LANES 8
#define MASK __m256i
#define V_ZERO() _mm256_setzero_ps()
#define V_SET1(x) _mm256_set1_ps(x)
#define V_FMA(a, b, acc) _mm256_fmadd_ps(a, b, acc)
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_LOAD_MASKED(m, p) _mm256_maskload_ps(p, m)
#define V_MASK(n) ymm_mask8(n)
#define V_STORE(st, r, col, acc, n) ymm_store_f32(st, r, col, acc, n)
#define V_STORE_RAW(p, acc, n) ymm_storen_ps(p, acc, n)
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

/* Blocks for AVX2-era cores (32 KiB L1d, 512 KiB L2, large shared L3), measured on Zen 3:
 * KC 1024 keeps an A micro-panel (6 x 1024 x 4 B = 24 KiB) in L1 while B micro-panels
 * stream from L2/L3, and it means one K block for every layer up to 1024 inputs: each
 * extra K block is another read-modify-write pass over C, which cost more than the
 * longer B stream (1024^3, 1 thread: KC 256/NC 512/MC 144 reached 67 GFLOP/s, KC 1024/
 * NC 1024/MC 72 reaches 77-84; 512x2048x2048 likewise 70 -> 79). */
const gemm_kernels gemm_kernels_f32_avx2 = {
    .name = "avx2",
    .elsize = sizeof(T),
    .mr = PACKED_MR, .nr = PACKED_NR, .mc = 72, .kc = 1024, .nc = 1024,
    .packed = packed_kernel,
    .pack = gemm_pack_avx2_f32,
    .strided_rows = 6,
    .strided_cols = {0, 32, 32, 24, 16, 16, 16},
    .strided = {NULL, strided_1x4, strided_2x4, strided_3x3, strided_4x2, strided_5x2,
                strided_6x2},
    .panel = {NULL, strided_1x2, strided_2x2, strided_3x2, strided_4x2, strided_5x2,
              strided_6x2},
    .direct_b_bytes = 1 << 19,
    .gemv = gemv_row,
    .half = {NULL, strided_1x2, strided_2x2},
    .narrow_cols = 8,
    .narrow = {NULL, strided_1x1, strided_2x1, strided_3x1, strided_4x1, strided_5x1,
               strided_6x1},
};
