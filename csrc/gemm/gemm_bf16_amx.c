/*
 * gemm_bf16_amx.c - the AMX kernels of fnn_sgemm_bf16 (compiled with -mamx-tile
 * -mamx-bf16 and the AVX-512 flags; run only after the CPU check and the OS's tile
 * permission in gemm_bf16.c).
 *
 * A block of C is 32 x 32: four 16 x 16 float tiles (tmm0-3) accumulate, per 32-k step,
 * two A tiles (tmm4-5: 16 rows x 32 k each) times two B tiles (tmm6-7: 16 k pairs x 16
 * columns, pair-interleaved): four tdpbf16ps of 16 x 16 x 32 multiply-adds each. The
 * packed panels make every tile a plain strided load: an A panel's 32-k step is 32 rows x
 * 64 bytes (tile 4 its first 16 rows, tile 5 the next, stride 64), a B panel's is 16 pair
 * rows x 128 bytes (tile 6 its first 64 bytes of each row, tile 7 the second, stride
 * 128). Both advance 2 KiB per step. Edge blocks skip the tiles they do not need; the
 * finished tiles go through memory to the float epilogue (gemm_bf16_tile_out).
 *
 * Tile configuration (ldtilecfg) is per thread: the driver calls amx_begin on each
 * thread before its first kernel of a call and amx_end (tilerelease) after its last.
 * Only the intrinsics that csrc/tests/bf16_emulate.h defines in plain C appear here:
 * test_bf16_emulated.c compiles this very file against that header.
 */
#ifdef FASTNN_BF16_EMULATE
#include "bf16_emulate.h"
#else
#include <immintrin.h>
#endif

#include "bf16.h"

#define BLOCK 32     /* rows and columns of a block of C, and k per step */
#define STEP (BLOCK * BLOCK) /* bf16 elements of a panel per 32-k step (A and B alike) */

/* ldtilecfg's 64-byte operand (palette 1): tiles 0-7 all 16 rows x 64 bytes. */
typedef struct tile_config {
    uint8_t palette, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16]; /* bytes per row of each tile */
    uint8_t rows[16];
} tile_config;

/* A constant, not a local filled in before the call: gcc's _tile_loadconfig tells the
 * compiler that ldtilecfg reads only 8 bytes, so stores to the rest of a local could be
 * dropped as dead. */
static const tile_config config __attribute__((aligned(64))) = {
    .palette = 1,
    .colsb = {64, 64, 64, 64, 64, 64, 64, 64},
    .rows = {16, 16, 16, 16, 16, 16, 16, 16},
};

static void amx_begin(void) { _tile_loadconfig(&config); }

static void amx_end(void) { _tile_release(); }

/* The block from a 32-row A panel ([32-k step][32 rows][32]) and a 32-column B panel
 * ([k pair][32 columns][2]) over kp (a multiple of 32); TM x TN of its 16 x 16 tiles
 * (constants: 1 or 2 each) are computed. */
static inline __attribute__((always_inline)) void
block(int TM, int TN, ptrdiff_t kp, const uint16_t *a, const uint16_t *b, int rows, int cols,
      const gemm_out *o, ptrdiff_t i, ptrdiff_t j)
{
    _tile_zero(0);
    if (TN == 2)
        _tile_zero(1);
    if (TM == 2)
        _tile_zero(2);
    if (TM == 2 && TN == 2)
        _tile_zero(3);
    for (ptrdiff_t p = 0; p < kp; p += BLOCK, a += STEP, b += STEP) {
        _tile_loadd(4, a, 64);
        if (TM == 2)
            _tile_loadd(5, a + 16 * BLOCK, 64);
        _tile_loadd(6, b, 128);
        if (TN == 2)
            _tile_loadd(7, b + BLOCK, 128);
        _tile_dpbf16ps(0, 4, 6);
        if (TN == 2)
            _tile_dpbf16ps(1, 4, 7);
        if (TM == 2)
            _tile_dpbf16ps(2, 5, 6);
        if (TM == 2 && TN == 2)
            _tile_dpbf16ps(3, 5, 7);
    }
    float tile[BLOCK * BLOCK] __attribute__((aligned(64)));
    _tile_stored(0, tile, BLOCK * 4);
    if (TN == 2)
        _tile_stored(1, tile + 16, BLOCK * 4);
    if (TM == 2)
        _tile_stored(2, tile + 16 * BLOCK, BLOCK * 4);
    if (TM == 2 && TN == 2)
        _tile_stored(3, tile + 16 * BLOCK + 16, BLOCK * 4);
    gemm_bf16_tile_out(tile, BLOCK, rows, cols, o, i, j);
}

static void kernel(ptrdiff_t kp, const uint16_t *a, const uint16_t *b, int rows, int cols,
                   const gemm_out *o, ptrdiff_t i, ptrdiff_t j)
{
    if (rows > 16 && cols > 16)
        block(2, 2, kp, a, b, rows, cols, o, i, j);
    else if (rows > 16)
        block(2, 1, kp, a, b, rows, cols, o, i, j);
    else if (cols > 16)
        block(1, 2, kp, a, b, rows, cols, o, i, j);
    else
        block(1, 1, kp, a, b, rows, cols, o, i, j);
}

/* Sapphire Rapids: 48 KiB L1d, 2 MiB L2 per core. An A micro-panel (32 x 512 x 2 B =
 * 32 KiB) is reused from L1 by every B micro-panel (32 KiB each, from L2, which holds
 * the 512 x 512 B block: 512 KiB); the 128-row A block is 128 KiB. Starting points
 * from those sizes, not measured yet. */
const gemm_bf16_kernels gemm_bf16_kernels_amx = {
    .name = "amx",
    .mr = BLOCK, .nr = BLOCK,
    .a_group = BLOCK, .k_unit = BLOCK,
    .mc = 128, .kc = 512, .nc = 512,
    .kernel = kernel,
    .begin = amx_begin, .end = amx_end,
};
