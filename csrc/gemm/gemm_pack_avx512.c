/*
 * gemm_pack_avx512.c - packing (gemm_pack_fn, see gemm.h) with AVX-512 for the two
 * layouts that matter, falling back to the portable routine for any other strides:
 *
 *   width-contiguous (sw == 1: rows of B in X W, columns of X^T in X^T dY): each depth
 *     step copies `panel` contiguous elements, with masked loads past the width;
 *   depth-contiguous (sd == 1: rows of A in X W, columns of W^T in dY W^T): blocks of
 *     16 x 16 floats (8 x 8 doubles) are transposed in registers, so both the reads
 *     and the writes are whole vectors.
 *
 * Panels a transposed block spans (two 8-wide A panels per 16 floats) are written
 * together; their distance (pstride) is never a multiple of 4 KiB, see panel_stride()
 * in gemm_blocked.c, so those stores do not alias in L1.
 */
#include <immintrin.h>

#include "gemm_avx512.h"

/* ----------------------------------------------------------------- transposes */

/* r[0..15] (16 rows of 16 floats) becomes its transpose: r[c] = old column c. */
ZMM_INLINE void transpose16_f32(__m512 r[16])
{
    __m512 t[16], u[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 2) { /* interleave row pairs, 32-bit */
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 4) { /* then pairs of pairs, 64-bit: 4 rows per lane */
        __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
        __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
        u[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));     /* columns 0, 4, 8, 12 */
        u[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c)); /* 1, 5, 9, 13 */
        u[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d)); /* 2, 6, 10, 14 */
        u[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d)); /* 3, 7, 11, 15 */
    }
#pragma GCC unroll 16
    for (int c = 0; c < 4; c++) { /* gather the 128-bit lanes of column c, c+4, ... */
        __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);
        __m512 v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);
        __m512 w0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
        __m512 w1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
        r[c] = _mm512_shuffle_f32x4(v0, w0, 0x88);
        r[c + 8] = _mm512_shuffle_f32x4(v0, w0, 0xDD);
        r[c + 4] = _mm512_shuffle_f32x4(v1, w1, 0x88);
        r[c + 12] = _mm512_shuffle_f32x4(v1, w1, 0xDD);
    }
}

/* r[0..7] (8 rows of 8 doubles) becomes its transpose. */
ZMM_INLINE void transpose8_f64(__m512d r[8])
{
    __m512d t[8], u[8];
#pragma GCC unroll 16
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm512_unpacklo_pd(r[i], r[i + 1]);     /* columns 0, 2, 4, 6 */
        t[i + 1] = _mm512_unpackhi_pd(r[i], r[i + 1]); /* 1, 3, 5, 7 */
    }
#pragma GCC unroll 16
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm512_shuffle_f64x2(t[i], t[i + 2], 0x88);     /* columns 0, 4 */
        u[i + 1] = _mm512_shuffle_f64x2(t[i], t[i + 2], 0xDD); /* 2, 6 */
        u[i + 2] = _mm512_shuffle_f64x2(t[i + 1], t[i + 3], 0x88); /* 1, 5 */
        u[i + 3] = _mm512_shuffle_f64x2(t[i + 1], t[i + 3], 0xDD); /* 3, 7 */
    }
    static const int column[4] = {0, 2, 1, 3};
#pragma GCC unroll 16
    for (int q = 0; q < 4; q++) {
        r[column[q]] = _mm512_shuffle_f64x2(u[q], u[4 + q], 0x88);
        r[column[q] + 4] = _mm512_shuffle_f64x2(u[q], u[4 + q], 0xDD);
    }
}

/* ----------------------------------------------------------------- float */

/* Depth steps per block: the block's source rows stay in L1 while every panel takes its
 * share of them, and each panel receives a contiguous run. */
#define DEPTH_BLOCK 16

/* One panel's rows [p0, p1) of a width-contiguous source: wn valid widths, the rest 0.
 * Inlined with a constant PANEL; full panels take unmasked loads. */
ZMM_INLINE void copy_rows_f32(int PANEL, int wn, ptrdiff_t p0, ptrdiff_t p1, const float *src,
                              ptrdiff_t sd, float *d)
{
    for (ptrdiff_t p = p0; p < p1; p++) {
        if (PANEL == 8) {
            __m256 x = wn == 8 ? _mm256_loadu_ps(src + p * sd)
                               : _mm256_maskz_loadu_ps(zmm_mask8(wn), src + p * sd);
            _mm256_storeu_ps(d + p * 8, x);
            continue;
        }
#pragma GCC unroll 4
        for (int c = 0; c < PANEL; c += 16) {
            __m512 x = wn == PANEL ? _mm512_loadu_ps(src + p * sd + c)
                                   : _mm512_maskz_loadu_ps(zmm_mask16(wn - c), src + p * sd + c);
            _mm512_storeu_ps(d + p * PANEL + c, x);
        }
    }
}

static void copy_f32(ptrdiff_t width, ptrdiff_t depth, const float *src, ptrdiff_t sd,
                     int panel, float *dst, ptrdiff_t pstride)
{
    for (ptrdiff_t p0 = 0; p0 < depth; p0 += DEPTH_BLOCK) {
        const ptrdiff_t p1 = gemm_min(p0 + DEPTH_BLOCK, depth);
        for (ptrdiff_t w0 = 0; w0 < width; w0 += panel) {
            const int wn = (int)gemm_min(panel, width - w0);
            float *d = dst + w0 / panel * pstride;
            if (panel == 8)
                copy_rows_f32(8, wn, p0, p1, src + w0, sd, d);
            else if (panel == 32)
                copy_rows_f32(32, wn, p0, p1, src + w0, sd, d);
            else
                copy_rows_f32(16, wn, p0, p1, src + w0, sd, d);
        }
    }
}

/* Rows [0, dn) of a transposed block to a panel at d0 (and, for 8-wide panels, the
 * upper 8 lanes to the next panel at d1 unless NULL). Inlined with dn == 16 for the
 * whole blocks, whose r[] then stays in registers. */
ZMM_INLINE void store16_f32(const __m512 r[16], int dn, int panel, float *d0, float *d1)
{
#pragma GCC unroll 16
    for (int p = 0; p < dn; p++) {
        if (panel == 8) {
            _mm256_storeu_ps(d0 + p * 8, _mm512_castps512_ps256(r[p]));
            if (d1)
                _mm256_storeu_ps(d1 + p * 8, _mm512_extractf32x8_ps(r[p], 1));
        } else {
            _mm512_storeu_ps(d0 + p * panel, r[p]);
        }
    }
}

/* Source rows in groups of 16 (an A block: two 8-wide panels; a B block: half of a
 * 32-wide panel), each row contiguous along depth; a panel's groups are done together
 * so that its cache lines are written whole. */
static void transpose_f32(ptrdiff_t width, ptrdiff_t depth, const float *src, ptrdiff_t sw,
                          int panel, float *dst, ptrdiff_t pstride)
{
    const ptrdiff_t panels = gemm_ceil_div(width, panel);
    const int span = panel < 16 ? 16 : panel; /* widths done together */
    for (ptrdiff_t s0 = 0; s0 < panels * panel; s0 += span) {
        for (ptrdiff_t p0 = 0; p0 < depth; p0 += 16) {
            const int dn = (int)gemm_min(16, depth - p0);
            const __mmask16 along = zmm_mask16(dn);
            for (ptrdiff_t w0 = s0; w0 < s0 + span; w0 += 16) {
                const ptrdiff_t q = w0 / panel;
                float *d0 = dst + q * pstride + w0 % panel + p0 * panel;
                float *d1 = panel == 8 && q + 1 < panels ? d0 + pstride : NULL;
                __m512 r[16];
            #pragma GCC unroll 16
                for (int i = 0; i < 16; i++)
                    r[i] = w0 + i < width
                               ? _mm512_maskz_loadu_ps(along, src + (w0 + i) * sw + p0)
                               : _mm512_setzero_ps();
                transpose16_f32(r);
            #pragma GCC unroll 16
                for (int p = 0; p < dn; p++) {
                    if (panel == 8) {
                        _mm256_storeu_ps(d0 + p * 8, _mm512_castps512_ps256(r[p]));
                        if (d1)
                            _mm256_storeu_ps(d1 + p * 8, _mm512_extractf32x8_ps(r[p], 1));
                    } else {
                        _mm512_storeu_ps(d0 + p * panel, r[p]);
                    }
                }
            }
        }
    }
}

void gemm_pack_avx512_f32(ptrdiff_t width, ptrdiff_t depth, const void *src, ptrdiff_t sw,
                          ptrdiff_t sd, int panel, void *dst, ptrdiff_t pstride)
{
    if (sw == 1 && (panel == 8 || panel == 16 || panel == 32))
        copy_f32(width, depth, (const float *)src, sd, panel, (float *)dst, pstride);
    else if (sd == 1 && (panel == 8 || panel % 16 == 0))
        transpose_f32(width, depth, (const float *)src, sw, panel, (float *)dst, pstride);
    else
        gemm_pack_portable_f32(width, depth, src, sw, sd, panel, dst, pstride);
}

/* ----------------------------------------------------------------- double */

static void copy_f64(ptrdiff_t width, ptrdiff_t depth, const double *src, ptrdiff_t sd,
                     int panel, double *dst, ptrdiff_t pstride)
{
    for (ptrdiff_t p0 = 0; p0 < depth; p0 += DEPTH_BLOCK) {
        const ptrdiff_t p1 = gemm_min(p0 + DEPTH_BLOCK, depth);
        for (ptrdiff_t w0 = 0; w0 < width; w0 += panel) {
            const int wn = (int)gemm_min(panel, width - w0);
            double *d = dst + w0 / panel * pstride;
            for (ptrdiff_t p = p0; p < p1; p++) {
                for (int c = 0; c < panel; c += 8) {
                    __m512d x = _mm512_maskz_loadu_pd(zmm_mask8(wn - c), src + p * sd + w0 + c);
                    _mm512_storeu_pd(d + p * panel + c, x);
                }
            }
        }
    }
}

static void transpose_f64(ptrdiff_t width, ptrdiff_t depth, const double *src, ptrdiff_t sw,
                          int panel, double *dst, ptrdiff_t pstride)
{
    const ptrdiff_t panels = gemm_ceil_div(width, panel);
    for (ptrdiff_t s0 = 0; s0 < panels * panel; s0 += panel) {
        for (ptrdiff_t p0 = 0; p0 < depth; p0 += 8) {
            const int dn = (int)gemm_min(8, depth - p0);
            const __mmask8 along = zmm_mask8(dn);
            for (ptrdiff_t w0 = s0; w0 < s0 + panel; w0 += 8) {
                double *d0 = dst + w0 / panel * pstride + w0 % panel + p0 * panel;
                __m512d r[8];
            #pragma GCC unroll 16
                for (int i = 0; i < 8; i++)
                    r[i] = w0 + i < width
                               ? _mm512_maskz_loadu_pd(along, src + (w0 + i) * sw + p0)
                               : _mm512_setzero_pd();
                transpose8_f64(r);
            #pragma GCC unroll 16
                for (int p = 0; p < dn; p++)
                    _mm512_storeu_pd(d0 + p * panel, r[p]);
            }
        }
    }
}

void gemm_pack_avx512_f64(ptrdiff_t width, ptrdiff_t depth, const void *src, ptrdiff_t sw,
                          ptrdiff_t sd, int panel, void *dst, ptrdiff_t pstride)
{
    if (sw == 1 && panel % 8 == 0)
        copy_f64(width, depth, (const double *)src, sd, panel, (double *)dst, pstride);
    else if (sd == 1 && panel % 8 == 0)
        transpose_f64(width, depth, (const double *)src, sw, panel, (double *)dst, pstride);
    else
        gemm_pack_portable_f64(width, depth, src, sw, sd, panel, dst, pstride);
}
