/*
 * gemm_f32_avx512.c - float kernels for AVX-512F (compiled with -mavx512f/dq/bw/vl, run
 * only after the CPU check), from the template gemm_simd_kernel.inc:
 *
 *   packed   8 x 32: 16 zmm accumulators, per k step 2 loads of B + 8 broadcasts of A
 *            for 16 FMAs (BLIS skx's 32 x 12 turned for row-major C; 8 rows divide the
 *            usual batch sizes, and 6 x 32 measured no faster here); and 8 x 48, 24 zmm
 *            accumulators, 3 loads + 8 broadcasts per 24 FMAs, where N is nearly a
 *            multiple of 48: less of B streamed from L2 per FMA (512 x 2048 x 2048
 *            ~6 % faster; 12.5 % of a 256-wide N would be padding)
 *   strided  r x 32 for r = 4..8 rows, 3 x 48, 2 x 128, 1 x 256: few rows take wide
 *            strips, for enough independent sums in flight and, at batch 1 (a GEMV
 *            bound by reading B), whole rows of B read contiguously (8 us for a
 *            784 x 256 W here, 13 us in 128-column strips)
 *   half     1 x 128, 2 x 64 for strips of at most half that width: a 256 -> 128
 *            layer at batch 1 (1.7 us instead of 3.0 with half the lanes masked), or
 *            one thread's half of a 256-column GEMV
 *   panel    r x 32 for every r, reading B packed into 32-wide panels
 *   narrow   r x 16 for a last strip of at most 16 columns (N = 10 output layers)
 *   columns  gemm_columns_avx512.c, for narrow C when A's columns are contiguous
 */
#include "gemm/gemm_avx512.h"

#define T float
#define VEC __m512
#define LANES 16
#define MASK __mmask16
#define V_ZERO() _mm512_setzero_ps()
#define V_SET1(x) _mm512_set1_ps(x)
#define V_FMA(a, b, acc) _mm512_fmadd_ps(a, b, acc)
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_LOAD_MASKED(m, p) _mm512_maskz_loadu_ps(m, p)
#define V_MASK(n) zmm_mask16(n)
#define V_STORE(st, r, col, acc, n) zmm_store_f32(st, r, col, acc, zmm_mask16(n))
#define V_STORE_RAW(p, acc, n) _mm512_mask_storeu_ps(p, zmm_mask16(n), acc)
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

/* Blocks for cores with 32-48 KiB of L1d and >= 1 MiB of L2. In the macro-kernel one A
 * micro-panel (8 x KC x 4 B = 12 KiB at KC 384) stays in L1 while the B micro-panels
 * (KC x 32 x 4 B = 48 KiB each) stream from L2, which holds the KC x NC block of B
 * (768 KiB at NC 512); the MC x KC block of A (216 KiB) comes from L2/L3 once per B
 * block. Measured here (1024^3, one thread): flat within noise for MC 96..288,
 * KC 256..384, NC 256..1024. */
const gemm_kernels gemm_kernels_f32_avx512 = {
    .name = "avx512",
    .elsize = 4,
    .mr = PACKED_MR, .nr = PACKED_NR, .mc = 144, .kc = 384, .nc = 512,
    .packed = packed_kernel,
    .nr_wide = PACKED_WIDE_NV * LANES,
    .packed_wide = packed_wide_kernel,
    .pack = gemm_pack_avx512_f32,
    .strided_rows = 8,
    .strided_cols = {0, 256, 128, 48, 32, 32, 32, 32, 32},
    .strided = {NULL, strided_1x16, strided_2x8, strided_3x3, strided_4x2, strided_5x2,
                strided_6x2, strided_7x2, strided_8x2},
    .panel = {NULL, strided_1x2, strided_2x2, strided_3x2, strided_4x2, strided_5x2,
              strided_6x2, strided_7x2, strided_8x2},
    .direct_b_bytes = 1 << 20,
    .gemv = gemv_row,
    .half = {NULL, strided_1x8, strided_2x4},
    .narrow_cols = 16,
    .narrow = {NULL, strided_1x1, strided_2x1, strided_3x1, strided_4x1, strided_5x1,
               strided_6x1, strided_7x1, strided_8x1},
    .columns_max = 12, .columns_rows = 32,
    .columns = gemm_columns_f32_avx512,
};
