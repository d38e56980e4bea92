/*
 * gemm_pack_avx2.c - packing (gemm_pack_fn, see gemm.h) with AVX2 for the two layouts
 * that matter, the portable routine for any other strides:
 *
 *   width-contiguous (sw == 1): each depth step copies a panel's run of elements
 *     (masked loads past the width; a 6-row A panel's runs are stored as 4 + 2);
 *   depth-contiguous (sd == 1): 8 x 8 float (4 x 4 double) blocks of one panel are
 *     transposed in registers; rows past the panel or the width are zeros.
 *
 * No masked stores: AVX2's are slow on some cores (gemm_avx2.h).
 */
#include "gemm/gemm_avx2.h"

#define DEPTH_BLOCK 16 /* depth steps per block, as in gemm_pack_avx512.c */

/* r[0..7] (8 rows of 8 floats) becomes its transpose. */
SIMD_INLINE void transpose8_f32(__m256 r[8])
{
    __m256 t[8], u[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);     /* a0 b0 a1 b1 | a4 b4 a5 b5 */
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]); /* a2 b2 a3 b3 | a6 b6 a7 b7 */
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);         /* columns 0 | 4 */
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);     /* 1 | 5 */
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44); /* 2 | 6 */
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE); /* 3 | 7 */
    }
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        r[c + 4] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}

/* r[0..3] (4 rows of 4 doubles) becomes its transpose. */
SIMD_INLINE void transpose4_f64(__m256d r[4])
{
    __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

/* ----------------------------------------------------------------- float */

static void copy_f32(ptrdiff_t width, ptrdiff_t depth, const float *src, ptrdiff_t sd,
                     int panel, float *dst, ptrdiff_t pstride)
{
    for (ptrdiff_t p0 = 0; p0 < depth; p0 += DEPTH_BLOCK) {
        const ptrdiff_t p1 = gemm_min(p0 + DEPTH_BLOCK, depth);
        for (ptrdiff_t w0 = 0; w0 < width; w0 += panel) {
            const int wn = (int)gemm_min(panel, width - w0);
            float *d = dst + w0 / panel * pstride;
            for (int c = 0; c < panel; c += 8) {
                const int keep = panel - c, valid = wn - c;
                for (ptrdiff_t p = p0; p < p1; p++)
                    ymm_storen_ps(d + p * panel + c, ymm_loadn_ps(src + p * sd + w0 + c, valid),
                                  keep);
            }
        }
    }
}

static void transpose_f32(ptrdiff_t width, ptrdiff_t depth, const float *src, ptrdiff_t sw,
                          int panel, float *dst, ptrdiff_t pstride)
{
    for (ptrdiff_t q0 = 0; q0 < width; q0 += panel, dst += pstride) {
        for (ptrdiff_t p0 = 0; p0 < depth; p0 += 8) {
            const int dn = (int)gemm_min(8, depth - p0);
            const __m256i along = ymm_mask8(dn);
            for (int c = 0; c < panel; c += 8) {
                __m256 r[8];
#pragma GCC unroll 8
                for (int i = 0; i < 8; i++) {
                    const ptrdiff_t w = q0 + c + i;
                    r[i] = c + i < panel && w < width
                               ? _mm256_maskload_ps(src + w * sw + p0, along)
                               : _mm256_setzero_ps();
                }
                transpose8_f32(r);
                for (int p = 0; p < dn; p++)
                    ymm_storen_ps(dst + (p0 + p) * panel + c, r[p], panel - c);
            }
        }
    }
}

void gemm_pack_avx2_f32(ptrdiff_t width, ptrdiff_t depth, const void *src, ptrdiff_t sw,
                        ptrdiff_t sd, int panel, void *dst, ptrdiff_t pstride)
{
    if (sw == 1)
        copy_f32(width, depth, (const float *)src, sd, panel, (float *)dst, pstride);
    else if (sd == 1)
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
            for (int c = 0; c < panel; c += 4) {
                const int keep = panel - c, valid = wn - c;
                for (ptrdiff_t p = p0; p < p1; p++)
                    ymm_storen_pd(d + p * panel + c, ymm_loadn_pd(src + p * sd + w0 + c, valid),
                                  keep);
            }
        }
    }
}

static void transpose_f64(ptrdiff_t width, ptrdiff_t depth, const double *src, ptrdiff_t sw,
                          int panel, double *dst, ptrdiff_t pstride)
{
    for (ptrdiff_t q0 = 0; q0 < width; q0 += panel, dst += pstride) {
        for (ptrdiff_t p0 = 0; p0 < depth; p0 += 4) {
            const int dn = (int)gemm_min(4, depth - p0);
            const __m256i along = ymm_mask4(dn);
            for (int c = 0; c < panel; c += 4) {
                __m256d r[4];
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++) {
                    const ptrdiff_t w = q0 + c + i;
                    r[i] = c + i < panel && w < width
                               ? _mm256_maskload_pd(src + w * sw + p0, along)
                               : _mm256_setzero_pd();
                }
                transpose4_f64(r);
                for (int p = 0; p < dn; p++)
                    ymm_storen_pd(dst + (p0 + p) * panel + c, r[p], panel - c);
            }
        }
    }
}

void gemm_pack_avx2_f64(ptrdiff_t width, ptrdiff_t depth, const void *src, ptrdiff_t sw,
                        ptrdiff_t sd, int panel, void *dst, ptrdiff_t pstride)
{
    if (sw == 1)
        copy_f64(width, depth, (const double *)src, sd, panel, (double *)dst, pstride);
    else if (sd == 1)
        transpose_f64(width, depth, (const double *)src, sw, panel, (double *)dst, pstride);
    else
        gemm_pack_portable_f64(width, depth, src, sw, sd, panel, dst, pstride);
}
