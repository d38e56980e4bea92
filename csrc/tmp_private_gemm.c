/* TEMPORARY private stand-in for the gemm branch (runtime + naive GEMM). Deleted before
 * reporting; never shipped. */
#include <stdlib.h>
#include "fastnn.h"
#ifdef FASTNN_HAVE_OPENMP
#include <omp.h>
#endif

static int level_forced = -1;
int fnn_simd_detected(void)
{
#ifdef FASTNN_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return FNN_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return FNN_SIMD_AVX2;
#endif
    return FNN_SIMD_SCALAR;
}
int fnn_simd_level(void) { return level_forced >= 0 ? level_forced : fnn_simd_detected(); }
int fnn_set_simd_level(int level)
{
    int d = fnn_simd_detected();
    level_forced = level > d ? d : level;
    return level_forced;
}
int fnn_openmp_enabled(void)
{
#ifdef FASTNN_HAVE_OPENMP
    return 1;
#else
    return 0;
#endif
}
static int nthreads = 1;
void fnn_set_num_threads(int n) { nthreads = n < 1 ? 1 : n; }
int fnn_get_num_threads(void)
{
#ifdef FASTNN_HAVE_OPENMP
    return nthreads;
#else
    return 1;
#endif
}

size_t fnn_gemm_scratch_bytes(int is_double, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, int threads)
{
    (void)is_double; (void)m; (void)n; (void)k; (void)threads;
    return 0;
}

#define GEMM(NAME, T, SFX)                                                               \
void NAME(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, T alpha, const T *a, ptrdiff_t rsa,     \
          ptrdiff_t csa, const T *b, ptrdiff_t rsb, ptrdiff_t csb, T beta, T *c,         \
          ptrdiff_t ldc, const fnn_epilogue *epi, void *scratch)                         \
{                                                                                        \
    (void)scratch;                                                                       \
    _Pragma("omp parallel for num_threads(fnn_get_num_threads())")                       \
    for (ptrdiff_t i = 0; i < m; i++) {                                                  \
        for (ptrdiff_t j = 0; j < n; j++) {                                              \
            T acc = 0;                                                                   \
            for (ptrdiff_t p = 0; p < k; p++)                                            \
                acc += a[i * rsa + p * csa] * b[p * rsb + j * csb];                      \
            T t = alpha * acc + (beta == 0 ? (T)0 : beta * c[i * ldc + j]);              \
            if (epi && epi->mode == FNN_EPI_FORWARD) {                                   \
                if (epi->bias) t += ((const T *)epi->bias)[j];                           \
                if (epi->z) ((T *)epi->z)[i * epi->ldz + j] = t;                         \
            }                                                                            \
            c[i * ldc + j] = t;                                                          \
        }                                                                                \
        if (epi && epi->mode == FNN_EPI_FORWARD)                                         \
            fnn_act_forward_##SFX(epi->act, epi->act_param, c + i * ldc, n);             \
        if (epi && epi->mode == FNN_EPI_ACT_GRAD) {                                      \
            const T *aux = (const T *)epi->aux + i * epi->ld_aux;                        \
            fnn_act_grad_##SFX(epi->act, epi->act_param, epi->act == FNN_ACT_GELU ? NULL : aux, \
                               epi->act == FNN_ACT_GELU ? aux : NULL, c + i * ldc, n);   \
        }                                                                                \
    }                                                                                    \
}
GEMM(fnn_sgemm, float, f32)
GEMM(fnn_dgemm, double, f64)
