/*
 * gemm_simd.h - what the SIMD kernels of every ISA share and that needs no ISA beyond
 * the x86-64 baseline: prefetching C, and the epilogue of a tile resolved once per tile.
 * Only static inline functions; included by the SIMD levels' translation units (cpu/).
 */
#ifndef FASTNN_GEMM_SIMD_H
#define FASTNN_GEMM_SIMD_H

#include <xmmintrin.h>

#include "gemm/gemm.h"

#define SIMD_INLINE static inline __attribute__((always_inline))

/* Ask for the rows x cols block of C at (i, j) before the K loop, so that the store at
 * its end does not wait for memory (its first and last cache line per row). */
SIMD_INLINE void simd_prefetch_c(const gemm_out *o, ptrdiff_t i, ptrdiff_t j, int rows,
                                 int cols)
{
    const char *c = (const char *)o->c + (i * o->ldc + j) * o->elsize;
    const ptrdiff_t ld = o->ldc * o->elsize, last = (ptrdiff_t)(cols - 1) * o->elsize;
    for (int r = 0; r < rows; r++, c += ld) {
        _mm_prefetch(c, _MM_HINT_T0);
        _mm_prefetch(c + last, _MM_HINT_T0);
    }
}

/* The epilogue of one tile, resolved once per tile: pointers at the tile's corner and
 * which steps apply (see gemm_out). */
typedef struct simd_store {
    void *c;
    ptrdiff_t ldc;
    double alpha, beta;
    int scale;        /* alpha != 1 */
    const void *bias; /* at column j, or NULL */
    void *z;          /* at (i, j), or NULL */
    ptrdiff_t ldz;
    const void *aux;  /* RELU derivative: the activation's output at (i, j), or NULL */
    ptrdiff_t ld_aux;
    int relu;         /* FORWARD with RELU */
} simd_store;

SIMD_INLINE simd_store simd_store_of(const gemm_out *o, ptrdiff_t i, ptrdiff_t j)
{
    const int es = o->elsize;
    simd_store s;
    s.c = (char *)o->c + (i * o->ldc + j) * es;
    s.ldc = o->ldc;
    s.alpha = o->alpha, s.beta = o->beta;
    s.scale = o->alpha != 1;
    s.bias = NULL, s.z = NULL, s.aux = NULL, s.ldz = 0, s.ld_aux = 0, s.relu = 0;
    if (o->mode == FNN_EPI_FORWARD) {
        s.bias = o->bias ? (const char *)o->bias + j * es : NULL;
        s.z = o->z ? (char *)o->z + (i * o->ldz + j) * es : NULL;
        s.ldz = o->ldz;
        s.relu = o->act == FNN_ACT_RELU;
    } else if (o->mode == FNN_EPI_ACT_GRAD && o->act == FNN_ACT_RELU) {
        s.aux = (const char *)o->aux + (i * o->ld_aux + j) * es;
        s.ld_aux = o->ld_aux;
    }
    return s;
}

#endif /* FASTNN_GEMM_SIMD_H */
