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

#include "gemm/gemm_avx512.h"

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
            else if (panel == 48)
                copy_rows_f32(48, wn, p0, p1, src + w0, sd, d);
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
    if (sw == 1 && (panel == 8 || panel == 16 || panel == 32 || panel == 48))
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
