/*
 * bf16.h - the bf16 GEMM's internals (fnn_sgemm_bf16 in fastnn.h): rounding a float to
 * bf16, the packed bf16 panels, and the table of kernels a bf16 level provides.
 *
 *   gemm_bf16.c               the driver: the portable path, K/M/N blocking, threads,
 *                             scratch (baseline)
 *   bf16_round.c              the elementwise conversions of fastnn.h (baseline)
 *   bf16_pack.inc             float -> packed bf16 panels, rounding on the way
 *   gemm_bf16_store.inc       the float epilogue of a finished tile (AVX-512)
 *   gemm_bf16_avx512bf16.inc  vdpbf16ps register blocks, and their table
 *   gemm_bf16_amx.inc         tdpbf16ps tile blocks, and their table
 * (the four .inc files: fragments of the bf16 levels' files)
 *
 * The bf16 levels are a second axis beside the SIMD levels (docs/architecture.md): each
 * is one translation unit, cpu/avx512_bf16.c and cpu/amx.c, compiled with its flags
 * from cpu/levels.mk (FNN_BF16_LEVELS), exporting its table; runtime.c detects the level
 * (CPU features, and for AMX the OS's tile permission) and hands the tables out
 * (fnn_bf16_at). The two kernel fragments use only the handful of intrinsics that
 * csrc/tests/bf16_emulate.h re-defines in plain C, so csrc/tests/test_bf16_emulated.c
 * runs this same source (with the real driver and packing) on any CPU; see that file
 * for what it does and does not prove.
 */
#ifndef FASTNN_GEMM_BF16_H
#define FASTNN_GEMM_BF16_H

#include <stdint.h>
#include <string.h>

#include "gemm/gemm.h"

/* ----------------------------------------------------------------------- rounding */

/* The bf16 bits of the float with bits u: round to nearest, ties to even; NaN -> quiet
 * NaN (payload truncated, bit 6 set); subnormal -> zero of its sign (fastnn.h). This is
 * the CPU's convert_fp32_to_bfloat16 (Intel SDM, vcvtneps2bf16), and the NumPy twin is
 * reference.round_bf16. */
static inline uint16_t bf16_from_bits(uint32_t u)
{
    /* as selects, not branches, so that loops over it vectorise */
    const uint32_t nearest = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    const uint32_t quiet_nan = (u >> 16) | 0x0040u;
    const uint32_t signed_zero = (u >> 16) & 0x8000u;
    uint32_t r = (u & 0x7FFFFFFFu) > 0x7F800000u ? quiet_nan : nearest;
    r = (u & 0x7F800000u) == 0 ? signed_zero : r;
    return (uint16_t)r;
}

static inline uint16_t bf16_from_f32(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return bf16_from_bits(u);
}

static inline float bf16_to_f32(uint16_t h)
{
    const uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* ----------------------------------------------------------------------- packing */

/* Packed panels, for both operands: a panel holds `panel` widths (rows of A, or columns
 * of B) over a K block of `depth` (zero-padded to `depth_pad`, a multiple of `group`),
 * K in groups of `group` consecutive elements:
 *
 *     (w, d) at dst[(d / group) * panel * group + (w % panel) * group + d % group]
 *
 * zeros past the width. Panel q (widths q*panel ..) starts pstride elements after panel
 * q-1. group 2 is the pair-interleaved ("VNNI") layout in which vdpbf16ps and tdpbf16ps
 * read B (a 64-byte row: 16 columns x one k pair), and in which an A row's k pair is
 * one 32-bit broadcast for vdpbf16ps; group 32 makes each 32-row x 32-k block of an A
 * panel two AMX A tiles (16 rows of 64 bytes each), contiguous. As gemm_pack_fn, the
 * source element (w, d) is at src[w*sw + d*sd]; every value is rounded by
 * bf16_from_bits. */
typedef void gemm_bf16_pack_fn(ptrdiff_t width, ptrdiff_t depth, ptrdiff_t depth_pad,
                               const float *src, ptrdiff_t sw, ptrdiff_t sd, int panel,
                               int group, uint16_t *dst, ptrdiff_t pstride);

/* ----------------------------------------------------------------------- kernels */

/* One block of C from packed panels: A (the table's mr rows, a_group layout) times B
 * (nr columns, pairs) over kp (a multiple of k_unit) padded depth; the first `rows` x
 * `cols` of the block are written to C[i.., j..] through the epilogue of o. Each
 * element's sum runs over k in order, pair by pair (AMX: 32-k step by 32-k step). */
typedef void gemm_bf16_kernel_fn(ptrdiff_t kp, const uint16_t *a, const uint16_t *b, int rows,
                                 int cols, const gemm_out *o, ptrdiff_t i, ptrdiff_t j);

/* What one ISA level offers. Block sizes are starting points from the published cache
 * sizes of the CPUs that have the ISA (Zen 4/5, Sapphire Rapids), not yet measured. */
typedef struct gemm_bf16_kernels {
    const char *name;
    int mr, nr;       /* the block of C one kernel call computes */
    int a_group;      /* A's K grouping (see gemm_bf16_pack); B's is 2 */
    int k_unit;       /* each K block's depth is padded to a multiple of this */
    int mc, kc, nc;   /* cache blocks: multiples of mr, k_unit, nr */
    gemm_bf16_kernel_fn *kernel;
    gemm_bf16_pack_fn *pack;
    /* Run on a thread before and after it runs kernels of one call (AMX: tile
     * configuration, and handing the tile state back); NULL: nothing to do. */
    void (*begin)(void);
    void (*end)(void);
} gemm_bf16_kernels;

/* The kernels' epilogue, in each level's file (gemm_bf16_store.inc): rows x cols of a
 * finished float tile (element (r, c) at tile[r*ld + c]) to C[i.., j..],
 * c = epilogue(alpha * tile + beta * c), as the float kernels' store (gemm_out):
 *     static void gemm_bf16_tile_out(const float *tile, int ld, int rows, int cols,
 *                                    const gemm_out *o, ptrdiff_t i, ptrdiff_t j);
 */

/* ----------------------------------------------------------------------- driver */

/* fnn_sgemm_bf16's packed path with the given table instead of the level's: for the
 * emulated kernel test, which runs the AVX512-BF16 and AMX tables on any CPU. */
void gemm_bf16_run(const gemm_bf16_kernels *t, const gemm_operands *op, const gemm_out *o,
                   ptrdiff_t m, ptrdiff_t n, void *scratch, size_t scratch_bytes);

/* The table a level uses for a product of this shape (NULL: the portable path), from
 * the levels' tables (cpu/cpu.h: fnn_bf16_at). At the AMX level a product too small for
 * 16 x 16 tiles (few rows, short K) takes the AVX512-BF16 kernels: a tile with one used
 * row does 1/16 of its work. */
const gemm_bf16_kernels *gemm_bf16_kernels_for(int level, ptrdiff_t m, ptrdiff_t k);

#endif /* FASTNN_GEMM_BF16_H */
