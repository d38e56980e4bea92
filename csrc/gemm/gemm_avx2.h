/*
 * gemm_avx2.h - the AVX2 kernels' shared pieces: lane masks (AVX2 has no mask
 * registers: a mask is a vector of all-ones/zero lanes) and the epilogue store of one
 * vector. Include only from *_avx2.c files; everything here is static inline.
 */
#ifndef FASTNN_GEMM_AVX2_H
#define FASTNN_GEMM_AVX2_H

#include <immintrin.h>

#include "gemm_simd.h"

/* Lanes [0, n) of 8 floats. */
SIMD_INLINE __m256i ymm_mask8(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Lanes [0, n) of 4 doubles. */
SIMD_INLINE __m256i ymm_mask4(int n)
{
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
}

/* C[r, col .. col+7] (lanes in m) = epilogue(alpha*acc + beta*C) for the tile of s.
 * LINEAR and RELU are done here; other activations follow in gemm_finish_rows. */
SIMD_INLINE void ymm_store_f32(const simd_store *s, int r, int col, __m256 acc, __m256i m)
{
    float *c = (float *)s->c + r * s->ldc + col;
    __m256 t = s->scale ? _mm256_mul_ps(_mm256_set1_ps((float)s->alpha), acc) : acc;
    if (s->beta != 0)
        t = _mm256_fmadd_ps(_mm256_set1_ps((float)s->beta), _mm256_maskload_ps(c, m), t);
    if (s->bias)
        t = _mm256_add_ps(t, _mm256_maskload_ps((const float *)s->bias + col, m));
    if (s->z)
        _mm256_maskstore_ps((float *)s->z + r * s->ldz + col, m, t);
    if (s->relu) /* max(0, t) keeps a NaN t, as np.maximum does */
        t = _mm256_max_ps(_mm256_setzero_ps(), t);
    if (s->aux) {
        __m256 a = _mm256_maskload_ps((const float *)s->aux + r * s->ld_aux + col, m);
        t = _mm256_and_ps(t, _mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_GT_OQ));
    }
    _mm256_maskstore_ps(c, m, t);
}

/* As ymm_store_f32, for 4 doubles. */
SIMD_INLINE void ymm_store_f64(const simd_store *s, int r, int col, __m256d acc, __m256i m)
{
    double *c = (double *)s->c + r * s->ldc + col;
    __m256d t = s->scale ? _mm256_mul_pd(_mm256_set1_pd(s->alpha), acc) : acc;
    if (s->beta != 0)
        t = _mm256_fmadd_pd(_mm256_set1_pd(s->beta), _mm256_maskload_pd(c, m), t);
    if (s->bias)
        t = _mm256_add_pd(t, _mm256_maskload_pd((const double *)s->bias + col, m));
    if (s->z)
        _mm256_maskstore_pd((double *)s->z + r * s->ldz + col, m, t);
    if (s->relu)
        t = _mm256_max_pd(_mm256_setzero_pd(), t);
    if (s->aux) {
        __m256d a = _mm256_maskload_pd((const double *)s->aux + r * s->ld_aux + col, m);
        t = _mm256_and_pd(t, _mm256_cmp_pd(a, _mm256_setzero_pd(), _CMP_GT_OQ));
    }
    _mm256_maskstore_pd(c, m, t);
}

#endif /* FASTNN_GEMM_AVX2_H */
