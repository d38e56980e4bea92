/*
 * gemm_avx2.h - the AVX2 kernels' shared pieces: lane masks (AVX2 has no mask
 * registers: a mask is a vector of all-ones/zero lanes) and the epilogue store of one
 * vector. Included only by cpu/avx2.c (compiled for AVX2); everything here is static
 * inline.
 */
#ifndef FASTNN_GEMM_AVX2_H
#define FASTNN_GEMM_AVX2_H

#include <immintrin.h>

#include "gemm/gemm_simd.h"

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

/* Loads and stores of the first n lanes (n >= the width: all of them). AVX2's masked
 * store (vmaskmovps/pd) is slow on some cores (~20 cycles on AMD Zen 3, against 1 for
 * a plain store; its masked load is as fast as a plain one), so a full vector is
 * stored plainly and a partial one in pieces of 4, 2 and 1 lanes. */
SIMD_INLINE __m256 ymm_loadn_ps(const float *p, int n)
{
    return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, ymm_mask8(n));
}

SIMD_INLINE __m256d ymm_loadn_pd(const double *p, int n)
{
    return n >= 4 ? _mm256_loadu_pd(p) : _mm256_maskload_pd(p, ymm_mask4(n));
}

SIMD_INLINE void ymm_storen_ps(float *p, __m256 v, int n)
{
    if (n >= 8) {
        _mm256_storeu_ps(p, v);
        return;
    }
    __m128 x = _mm256_castps256_ps128(v);
    if (n >= 4) {
        _mm_storeu_ps(p, x);
        x = _mm256_extractf128_ps(v, 1), p += 4, n -= 4;
    }
    if (n >= 2) {
        _mm_storel_pi((__m64 *)p, x);
        x = _mm_movehl_ps(x, x), p += 2, n -= 2;
    }
    if (n >= 1)
        _mm_store_ss(p, x);
}

SIMD_INLINE void ymm_storen_pd(double *p, __m256d v, int n)
{
    if (n >= 4) {
        _mm256_storeu_pd(p, v);
        return;
    }
    __m128d x = _mm256_castpd256_pd128(v);
    if (n >= 2) {
        _mm_storeu_pd(p, x);
        x = _mm256_extractf128_pd(v, 1), p += 2, n -= 2;
    }
    if (n >= 1)
        _mm_store_sd(p, x);
}

/* C[r, col .. col+n) (n >= 8: 8 columns) = epilogue(alpha*acc + beta*C) for the tile of
 * s. LINEAR and RELU are done here; other activations follow in gemm_finish_rows. */
SIMD_INLINE void ymm_store_f32(const simd_store *s, int r, int col, __m256 acc, int n)
{
    float *c = (float *)s->c + r * s->ldc + col;
    __m256 t = s->scale ? _mm256_mul_ps(_mm256_set1_ps((float)s->alpha), acc) : acc;
    if (s->beta != 0)
        t = _mm256_fmadd_ps(_mm256_set1_ps((float)s->beta), ymm_loadn_ps(c, n), t);
    if (s->bias)
        t = _mm256_add_ps(t, ymm_loadn_ps((const float *)s->bias + col, n));
    if (s->z)
        ymm_storen_ps((float *)s->z + r * s->ldz + col, t, n);
    if (s->relu) /* max(0, t) keeps a NaN t, as np.maximum does */
        t = _mm256_max_ps(_mm256_setzero_ps(), t);
    if (s->aux) {
        __m256 a = ymm_loadn_ps((const float *)s->aux + r * s->ld_aux + col, n);
        t = _mm256_and_ps(t, _mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_GT_OQ));
    }
    ymm_storen_ps(c, t, n);
}

/* As ymm_store_f32, for 4 doubles. */
SIMD_INLINE void ymm_store_f64(const simd_store *s, int r, int col, __m256d acc, int n)
{
    double *c = (double *)s->c + r * s->ldc + col;
    __m256d t = s->scale ? _mm256_mul_pd(_mm256_set1_pd(s->alpha), acc) : acc;
    if (s->beta != 0)
        t = _mm256_fmadd_pd(_mm256_set1_pd(s->beta), ymm_loadn_pd(c, n), t);
    if (s->bias)
        t = _mm256_add_pd(t, ymm_loadn_pd((const double *)s->bias + col, n));
    if (s->z)
        ymm_storen_pd((double *)s->z + r * s->ldz + col, t, n);
    if (s->relu)
        t = _mm256_max_pd(_mm256_setzero_pd(), t);
    if (s->aux) {
        __m256d a = ymm_loadn_pd((const double *)s->aux + r * s->ld_aux + col, n);
        t = _mm256_and_pd(t, _mm256_cmp_pd(a, _mm256_setzero_pd(), _CMP_GT_OQ));
    }
    ymm_storen_pd(c, t, n);
}

#endif /* FASTNN_GEMM_AVX2_H */
