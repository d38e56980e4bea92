/*
 * gemm_avx512.h - the AVX-512 kernels' shared pieces: lane masks and the epilogue store
 * of one vector. Include only from *_avx512.c files (compiled for
 * AVX-512); everything here is static inline, so no AVX-512 code can be linked into a
 * baseline caller.
 */
#ifndef FASTNN_GEMM_AVX512_H
#define FASTNN_GEMM_AVX512_H

#include <immintrin.h>

#include "gemm_simd.h"

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

#endif /* FASTNN_GEMM_AVX512_H */
