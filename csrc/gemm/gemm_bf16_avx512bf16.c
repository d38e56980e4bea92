/*
 * gemm_bf16_avx512bf16.c - the AVX512-BF16 kernels of fnn_sgemm_bf16 (compiled with
 * -mavx512bf16 and the AVX-512 flags; run only after the CPU check in gemm_bf16.c).
 *
 * A block of C is 8 rows x 32 columns: 16 zmm accumulators of 16 float lanes. Per k
 * pair the kernel loads two vectors of B (32 columns x the pair, pair-interleaved: lane c
 * holds B(p, c), B(p+1, c)) and, per row, broadcasts that row's pair of A as one 32-bit
 * value; vdpbf16ps then adds both products of the pair to each lane. So one instruction
 * does 32 multiply-adds where a float FMA does 16, and the packed operands are half the
 * bytes. Edge blocks of fewer rows use a kernel for exactly that many rows; columns past
 * the edge are zeros in the packed B and are not stored.
 *
 * Only the intrinsics that csrc/tests/bf16_emulate.h defines in plain C appear here
 * (setzero, loadu_si512, set1_epi32, dpbf16_ps, storeu_ps): test_bf16_emulated.c
 * compiles this very file against that header.
 */
#ifdef FASTNN_BF16_EMULATE
#include "bf16_emulate.h"
#else
#include <immintrin.h>
/* 64 bytes of packed bf16 as the operand type of vdpbf16ps */
#define BF16_VEC(v) ((__m512bh)(v))
#endif

#include "bf16.h"

#define MR 8        /* rows of a block */
#define NV 2        /* vectors of 16 columns per row */
#define NR (16 * NV)

/* rows x 32 block of C from an 8-row A panel ([k pair][8 rows][2]) and a 32-column B
 * panel ([k pair][32 columns][2]) over kp (even) padded depth; inlined with constant
 * ROWS, so that the accumulators live in registers. */
static inline __attribute__((always_inline)) void
block(int ROWS, ptrdiff_t kp, const uint16_t *a, const uint16_t *b, int cols, const gemm_out *o,
      ptrdiff_t i, ptrdiff_t j)
{
    __m512 acc[MR][NV];
#pragma GCC unroll 8
    for (int r = 0; r < ROWS; r++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            acc[r][v] = _mm512_setzero_ps();
#pragma GCC unroll 2
    for (ptrdiff_t q = 0; q < kp / 2; q++, a += 2 * MR, b += 2 * NR) {
        __m512bh bv[NV];
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            bv[v] = BF16_VEC(_mm512_loadu_si512(b + 32 * v));
#pragma GCC unroll 8
        for (int r = 0; r < ROWS; r++) {
            int32_t pair; /* A(r, p) in the low half, A(r, p+1) in the high half */
            memcpy(&pair, a + 2 * r, sizeof pair);
            const __m512bh av = BF16_VEC(_mm512_set1_epi32(pair));
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++)
                acc[r][v] = _mm512_dpbf16_ps(acc[r][v], av, bv[v]);
        }
    }
    float tile[MR * NR] __attribute__((aligned(64)));
#pragma GCC unroll 8
    for (int r = 0; r < ROWS; r++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            _mm512_storeu_ps(tile + r * NR + 16 * v, acc[r][v]);
    gemm_bf16_tile_out(tile, NR, ROWS, cols, o, i, j);
}

typedef void rows_fn(ptrdiff_t kp, const uint16_t *a, const uint16_t *b, int cols,
                     const gemm_out *o, ptrdiff_t i, ptrdiff_t j);

#define ROWS_KERNEL(R)                                                                     \
    static void block_##R(ptrdiff_t kp, const uint16_t *a, const uint16_t *b, int cols,    \
                          const gemm_out *o, ptrdiff_t i, ptrdiff_t j)                     \
    {                                                                                      \
        block(R, kp, a, b, cols, o, i, j);                                                 \
    }
ROWS_KERNEL(1)
ROWS_KERNEL(2)
ROWS_KERNEL(3)
ROWS_KERNEL(4)
ROWS_KERNEL(5)
ROWS_KERNEL(6)
ROWS_KERNEL(7)
ROWS_KERNEL(8)

static rows_fn *const by_rows[MR + 1] = {NULL,    block_1, block_2, block_3, block_4,
                                         block_5, block_6, block_7, block_8};

static void kernel(ptrdiff_t kp, const uint16_t *a, const uint16_t *b, int rows, int cols,
                   const gemm_out *o, ptrdiff_t i, ptrdiff_t j)
{
    by_rows[rows](kp, a, b, cols, o, i, j);
}

/* The float AVX-512 table's blocks (gemm_f32_avx512.c, measured on Zen 5) in bytes: a
 * bf16 element is half a float, so KC doubles to 768. One A micro-panel (8 x 768 x 2 B =
 * 12 KiB) stays in L1 while the B micro-panels (48 KiB each) stream from L2, which holds
 * the KC x NC block of B (768 KiB). Not yet measured with these kernels. */
const gemm_bf16_kernels gemm_bf16_kernels_avx512bf16 = {
    .name = "avx512_bf16",
    .mr = MR, .nr = NR,
    .a_group = 2, .k_unit = 2,
    .mc = 144, .kc = 768, .nc = 512,
    .kernel = kernel,
    .begin = NULL, .end = NULL,
};
