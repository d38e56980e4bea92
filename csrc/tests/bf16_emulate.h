/*
 * bf16_emulate.h - plain-C stand-ins for the intrinsics of the bf16 kernel fragments
 * (csrc/gemm/gemm_bf16_avx512bf16.inc, gemm_bf16_amx.inc), written from the definitions
 * in the Intel SDM, so that test_bf16_emulated.c runs those fragments' own source on any
 * CPU: it defines FASTNN_BF16_EMULATE and includes this header first, and the fragments
 * then leave out <immintrin.h>.
 *
 * AVX512-BF16:
 *   __m512 (16 floats), __m512i = __m512bh (64 bytes: 32 bf16), BF16_VEC(v) (the
 *   operand-type cast of the real build: nothing to do here), _mm512_setzero_ps,
 *   _mm512_loadu_si512, _mm512_set1_epi32, _mm512_storeu_ps, and
 *   _mm512_dpbf16_ps(acc, a, b): per float lane j, acc += a[2j+1] b[2j+1] then
 *   acc += a[2j] b[2j], each step one fused multiply-add rounded to nearest even,
 *   bf16 subnormal inputs read as zero and subnormal results flushed to zero.
 * AMX (palette 1: 8 tiles of up to 16 rows x 64 bytes; state per thread):
 *   _tile_loadconfig (validated: palette 1, rows <= 16, colsb <= 64, rows and colsb zero
 *   together, unused tiles zero; zeroes every tile), _tile_release, _tile_zero,
 *   _tile_loadd / _tile_stored (rows x colsb bytes at base + r * stride; a load zeroes
 *   the rest of the tile), and _tile_dpbf16ps(c, a, b): for each row m of c, for each
 *   k pair of a's row, for each column n: c[m][n] += a[m][2k] b[k][2n], then
 *   += a[m][2k+1] b[k][2n+1], rounded as above; with the SDM's #UD shape checks (three
 *   distinct tiles, a.rows == c.rows, a.colsb == 4 b.rows, b.colsb == c.colsb).
 * Any tile instruction before ldtilecfg, or after tilerelease, aborts (real hardware
 * raises #UD), as does every violated check, with a message naming it.
 */
#ifndef FASTNN_BF16_EMULATE_H
#define FASTNN_BF16_EMULATE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct emu_m512 {
    float f[16];
} __m512;

typedef struct emu_bits512 {
    uint16_t h[32];
} emu_bits512;
typedef emu_bits512 __m512i;
typedef emu_bits512 __m512bh;

#define BF16_VEC(v) (v)

static inline __m512 _mm512_setzero_ps(void)
{
    __m512 v;
    memset(&v, 0, sizeof v);
    return v;
}

static inline __m512i _mm512_loadu_si512(const void *p)
{
    __m512i v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline __m512i _mm512_set1_epi32(int x)
{
    const uint32_t u = (uint32_t)x;
    __m512i v;
    for (int j = 0; j < 16; j++) {
        v.h[2 * j] = (uint16_t)(u & 0xFFFFu); /* little-endian: the low half first */
        v.h[2 * j + 1] = (uint16_t)(u >> 16);
    }
    return v;
}

static inline void _mm512_storeu_ps(void *p, __m512 v) { memcpy(p, &v, sizeof v); }

/* make_fp32 with the instructions' DAZ: a bf16 subnormal reads as a zero of its sign. */
static inline float emu_bf16_value(uint16_t h)
{
    if ((h & 0x7F80u) == 0)
        h &= 0x8000u;
    const uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* acc + a b as one fused multiply-add (fmaf: one rounding to nearest even), flushing a
 * subnormal result to zero (FTZ). */
static inline float emu_fma(float acc, uint16_t a, uint16_t b)
{
    if (fpclassify(acc) == FP_SUBNORMAL)
        acc = copysignf(0.0f, acc);
    const float r = fmaf(emu_bf16_value(a), emu_bf16_value(b), acc);
    return fpclassify(r) == FP_SUBNORMAL ? copysignf(0.0f, r) : r;
}

static inline __m512 _mm512_dpbf16_ps(__m512 acc, __m512bh a, __m512bh b)
{
    for (int j = 0; j < 16; j++) {
        acc.f[j] = emu_fma(acc.f[j], a.h[2 * j + 1], b.h[2 * j + 1]);
        acc.f[j] = emu_fma(acc.f[j], a.h[2 * j], b.h[2 * j]);
    }
    return acc;
}

/* ------------------------------------------------------------------ AMX */

typedef struct emu_amx_state {
    int configured;
    uint8_t rows[8];
    uint16_t colsb[8];
    uint8_t data[8][16][64];
} emu_amx_state;

static __thread emu_amx_state emu_amx; /* tile state is per thread, as on the CPU */

static void emu_amx_fail(const char *what, int tile)
{
    fprintf(stderr, "emulated AMX: %s (tile %d)\n", what, tile);
    abort();
}

static inline void emu_amx_tile_ok(int t)
{
    if (!emu_amx.configured)
        emu_amx_fail("tile instruction without a loaded tile configuration", t);
    if (t < 0 || t > 7)
        emu_amx_fail("no such tile register", t);
}

static inline void _tile_loadconfig(const void *config)
{
    const uint8_t *c = (const uint8_t *)config;
    if (c[0] != 1)
        emu_amx_fail("palette must be 1", -1);
    if (c[1] != 0)
        emu_amx_fail("start_row must be 0", -1);
    for (int i = 2; i < 16; i++)
        if (c[i] != 0)
            emu_amx_fail("reserved bytes 2-15 must be 0", -1);
    for (int t = 0; t < 16; t++) {
        const unsigned colsb = (unsigned)c[16 + 2 * t] | (unsigned)c[17 + 2 * t] << 8;
        const unsigned rows = c[48 + t];
        if (t >= 8 && (colsb || rows))
            emu_amx_fail("palette 1 has 8 tiles", t);
        if (rows > 16 || colsb > 64)
            emu_amx_fail("a tile is at most 16 rows x 64 bytes", t);
        if ((rows == 0) != (colsb == 0))
            emu_amx_fail("rows and colsb must be zero together", t);
        if (t < 8)
            emu_amx.rows[t] = (uint8_t)rows, emu_amx.colsb[t] = (uint16_t)colsb;
    }
    memset(emu_amx.data, 0, sizeof emu_amx.data);
    emu_amx.configured = 1;
}

static inline void _tile_release(void)
{
    memset(&emu_amx, 0, sizeof emu_amx);
}

static inline void emu_tile_zero(int t)
{
    emu_amx_tile_ok(t);
    memset(emu_amx.data[t], 0, sizeof emu_amx.data[t]);
}

static inline void emu_tile_loadd(int t, const void *base, long stride)
{
    emu_amx_tile_ok(t);
    memset(emu_amx.data[t], 0, sizeof emu_amx.data[t]);
    for (int r = 0; r < emu_amx.rows[t]; r++)
        memcpy(emu_amx.data[t][r], (const char *)base + r * stride, emu_amx.colsb[t]);
}

static inline void emu_tile_stored(int t, void *base, long stride)
{
    emu_amx_tile_ok(t);
    for (int r = 0; r < emu_amx.rows[t]; r++)
        memcpy((char *)base + r * stride, emu_amx.data[t][r], emu_amx.colsb[t]);
}

static inline uint16_t emu_tile_bf16(int t, int row, int index)
{
    uint16_t h;
    memcpy(&h, &emu_amx.data[t][row][2 * index], sizeof h);
    return h;
}

static inline void emu_tdpbf16ps(int c, int a, int b)
{
    emu_amx_tile_ok(c), emu_amx_tile_ok(a), emu_amx_tile_ok(b);
    if (c == a || c == b || a == b)
        emu_amx_fail("tdpbf16ps needs three distinct tiles", c);
    if (emu_amx.rows[a] != emu_amx.rows[c] || emu_amx.colsb[a] != 4 * emu_amx.rows[b] ||
        emu_amx.colsb[b] != emu_amx.colsb[c])
        emu_amx_fail("tdpbf16ps shapes: c is M x N, a M x K pairs, b K pairs x N", c);
    for (int m = 0; m < emu_amx.rows[c]; m++) {
        float row[16];
        memcpy(row, emu_amx.data[c][m], sizeof row);
        for (int k = 0; k < emu_amx.colsb[a] / 4; k++) {
            for (int n = 0; n < emu_amx.colsb[c] / 4; n++) {
                row[n] = emu_fma(row[n], emu_tile_bf16(a, m, 2 * k), emu_tile_bf16(b, k, 2 * n));
                row[n] = emu_fma(row[n], emu_tile_bf16(a, m, 2 * k + 1),
                                 emu_tile_bf16(b, k, 2 * n + 1));
            }
        }
        memset(emu_amx.data[c][m], 0, sizeof emu_amx.data[c][m]);
        memcpy(emu_amx.data[c][m], row, emu_amx.colsb[c]);
    }
}

#define _tile_zero(t) emu_tile_zero(t)
#define _tile_loadd(t, base, stride) emu_tile_loadd(t, base, (long)(stride))
#define _tile_stored(t, base, stride) emu_tile_stored(t, base, (long)(stride))
#define _tile_dpbf16ps(c, a, b) emu_tdpbf16ps(c, a, b)

#endif /* FASTNN_BF16_EMULATE_H */
