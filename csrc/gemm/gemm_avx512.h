/*
 * gemm_avx512.h - the AVX-512 kernels' shared pieces: lane masks, the epilogue store of
 * one vector, and in-register transposes. Included only by cpu/avx512.c (compiled for
 * AVX-512); everything here is static inline, so no AVX-512 code can be linked into a
 * baseline caller.
 */
#ifndef FASTNN_GEMM_AVX512_H
#define FASTNN_GEMM_AVX512_H

#include <immintrin.h>

#include "gemm/gemm_simd.h"

#define ZMM_INLINE SIMD_INLINE

/* Lanes [0, n) of 16 (n may be <= 0 or >= 16). */
ZMM_INLINE __mmask16 zmm_mask16(int n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* Lanes [0, n) of 8. */
ZMM_INLINE __mmask8 zmm_mask8(int n)
{
    return n >= 8 ? (__mmask8)0xFF : n <= 0 ? (__mmask8)0 : (__mmask8)((1u << n) - 1);
}

/* C[r, col .. col+15] (lanes in m) = epilogue(alpha*acc + beta*C) for the tile of s.
 * LINEAR and RELU are done here; other activations follow in gemm_finish_rows. */
ZMM_INLINE void zmm_store_f32(const simd_store *s, int r, int col, __m512 acc, __mmask16 m)
{
    float *c = (float *)s->c + r * s->ldc + col;
    __m512 t = s->scale ? _mm512_mul_ps(_mm512_set1_ps((float)s->alpha), acc) : acc;
    if (s->beta != 0)
        t = _mm512_fmadd_ps(_mm512_set1_ps((float)s->beta), _mm512_maskz_loadu_ps(m, c), t);
    if (s->bias)
        t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(m, (const float *)s->bias + col));
    if (s->z)
        _mm512_mask_storeu_ps((float *)s->z + r * s->ldz + col, m, t);
    if (s->relu) /* max(0, t) keeps a NaN t, as np.maximum does */
        t = _mm512_max_ps(_mm512_setzero_ps(), t);
    if (s->aux) {
        __m512 a = _mm512_maskz_loadu_ps(m, (const float *)s->aux + r * s->ld_aux + col);
        t = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_GT_OQ), t);
    }
    _mm512_mask_storeu_ps(c, m, t);
}

/* As zmm_store_f32, for 8 doubles. */
ZMM_INLINE void zmm_store_f64(const simd_store *s, int r, int col, __m512d acc, __mmask8 m)
{
    double *c = (double *)s->c + r * s->ldc + col;
    __m512d t = s->scale ? _mm512_mul_pd(_mm512_set1_pd(s->alpha), acc) : acc;
    if (s->beta != 0)
        t = _mm512_fmadd_pd(_mm512_set1_pd(s->beta), _mm512_maskz_loadu_pd(m, c), t);
    if (s->bias)
        t = _mm512_add_pd(t, _mm512_maskz_loadu_pd(m, (const double *)s->bias + col));
    if (s->z)
        _mm512_mask_storeu_pd((double *)s->z + r * s->ldz + col, m, t);
    if (s->relu)
        t = _mm512_max_pd(_mm512_setzero_pd(), t);
    if (s->aux) {
        __m512d a = _mm512_maskz_loadu_pd(m, (const double *)s->aux + r * s->ld_aux + col);
        t = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(a, _mm512_setzero_pd(), _CMP_GT_OQ), t);
    }
    _mm512_mask_storeu_pd(c, m, t);
}

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

#endif /* FASTNN_GEMM_AVX512_H */

