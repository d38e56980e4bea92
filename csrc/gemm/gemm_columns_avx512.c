/*
 * gemm_columns_avx512.c - "column" kernels for narrow C (at most 12 float or 8 double
 * columns) when A's columns are contiguous, A(r, p) at a[r + p*csa]: the dW = X^T dZ
 * product of an output layer (N = 10). A row-oriented tile would spend 6 of its 16
 * lanes on absent columns; here the register tile is turned around: its vectors run
 * down C's columns (two vectors of rows), each k step loads two vectors of A's column
 * p and broadcasts the NC elements of B's row p (B(p, c) at b[p*rsb + c]), so every
 * lane does useful work. Each element is still one FMA per term in order p = 0, 1, ...
 * (identical bits to the row kernels). The finished tile is transposed in registers
 * into rows of C for the usual epilogue store.
 *
 * gemm_columns_fn: rows <= 2 vectors of rows (32 floats, 16 doubles); writes rows x NC
 * at C[i, j] through o; reads only A's first `rows` rows and B's first NC columns.
 */
#include "gemm/gemm_avx512.h"

/* ----------------------------------------------------------------- float */

/* Rows [0, rows) x nc columns of a transposed tile (row 16h + r in acc[h][r]) to
 * C[i, j]: out of line, shared by every column count. */
static __attribute__((noinline)) void columns_store_f32(const __m512 acc[2][16], int nc,
                                                        int rows, const gemm_out *o,
                                                        ptrdiff_t i, ptrdiff_t j)
{
    const simd_store st = simd_store_of(o, i, j);
    const __mmask16 cols = zmm_mask16(nc);
    const int plain = o->mode == FNN_EPI_NONE && o->alpha == 1 && o->beta == 0;
    for (int r = 0; r < rows; r++) {
        if (plain)
            _mm512_mask_storeu_ps((float *)st.c + r * st.ldc, cols, acc[r / 16][r % 16]);
        else
            zmm_store_f32(&st, r, 0, acc[r / 16][r % 16], cols);
    }
    if (o->mode != FNN_EPI_NONE && !gemm_act_in_register(o->act))
        gemm_finish_rows(o, i, j, rows, nc);
}

ZMM_INLINE void columns_f32(int NC, ptrdiff_t k, const float *a, ptrdiff_t csa,
                            const float *b, ptrdiff_t rsb, int rows, int masked,
                            const gemm_out *o, ptrdiff_t i, ptrdiff_t j)
{
    __m512 acc[2][16]; /* [row vector][column]; columns >= NC stay 0 for the transpose */
    const __mmask16 m0 = zmm_mask16(rows), m1 = zmm_mask16(rows - 16);
#pragma GCC unroll 16
    for (int c = 0; c < 16; c++)
        acc[0][c] = acc[1][c] = _mm512_setzero_ps();
#pragma GCC unroll 4
    for (ptrdiff_t p = 0; p < k; p++, a += csa, b += rsb) {
        const __m512 a0 = masked ? _mm512_maskz_loadu_ps(m0, a) : _mm512_loadu_ps(a);
        const __m512 a1 = masked ? _mm512_maskz_loadu_ps(m1, a + 16) : _mm512_loadu_ps(a + 16);
#pragma GCC unroll 16
        for (int c = 0; c < NC; c++) {
            const __m512 bc = _mm512_set1_ps(b[c]);
            acc[0][c] = _mm512_fmadd_ps(a0, bc, acc[0][c]);
            acc[1][c] = _mm512_fmadd_ps(a1, bc, acc[1][c]);
        }
    }
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++)
        transpose16_f32(acc[h]); /* acc[h][r] = row 16h + r, its lanes the columns */
    columns_store_f32(acc, NC, rows, o, i, j);
}

#define COLUMNS_F32(NC)                                                                    \
    static void columns_f32_##NC(ptrdiff_t k, const void *a, ptrdiff_t csa, const void *b, \
                                 ptrdiff_t rsb, int rows, const gemm_out *o, ptrdiff_t i,  \
                                 ptrdiff_t j)                                              \
    {                                                                                      \
        if (rows == 32)                                                                    \
            columns_f32(NC, k, (const float *)a, csa, (const float *)b, rsb, 32, 0, o, i,  \
                        j);                                                                \
        else                                                                               \
            columns_f32(NC, k, (const float *)a, csa, (const float *)b, rsb, rows, 1, o,   \
                        i, j);                                                             \
    }
COLUMNS_F32(1)
COLUMNS_F32(2)
COLUMNS_F32(3)
COLUMNS_F32(4)
COLUMNS_F32(5)
COLUMNS_F32(6)
COLUMNS_F32(7)
COLUMNS_F32(8)
COLUMNS_F32(9)
COLUMNS_F32(10)
COLUMNS_F32(11)
COLUMNS_F32(12)

gemm_columns_fn *const gemm_columns_f32_avx512[GEMM_MAX_COLUMNS + 1] = {
    NULL,           columns_f32_1,  columns_f32_2,  columns_f32_3, columns_f32_4,
    columns_f32_5,  columns_f32_6,  columns_f32_7,  columns_f32_8, columns_f32_9,
    columns_f32_10, columns_f32_11, columns_f32_12,
};

/* ----------------------------------------------------------------- double */

static __attribute__((noinline)) void columns_store_f64(const __m512d acc[2][8], int nc,
                                                        int rows, const gemm_out *o,
                                                        ptrdiff_t i, ptrdiff_t j)
{
    const simd_store st = simd_store_of(o, i, j);
    const __mmask8 cols = zmm_mask8(nc);
    const int plain = o->mode == FNN_EPI_NONE && o->alpha == 1 && o->beta == 0;
    for (int r = 0; r < rows; r++) {
        if (plain)
            _mm512_mask_storeu_pd((double *)st.c + r * st.ldc, cols, acc[r / 8][r % 8]);
        else
            zmm_store_f64(&st, r, 0, acc[r / 8][r % 8], cols);
    }
    if (o->mode != FNN_EPI_NONE && !gemm_act_in_register(o->act))
        gemm_finish_rows(o, i, j, rows, nc);
}

ZMM_INLINE void columns_f64(int NC, ptrdiff_t k, const double *a, ptrdiff_t csa,
                            const double *b, ptrdiff_t rsb, int rows, int masked,
                            const gemm_out *o, ptrdiff_t i, ptrdiff_t j)
{
    __m512d acc[2][8];
    const __mmask8 m0 = zmm_mask8(rows), m1 = zmm_mask8(rows - 8);
#pragma GCC unroll 8
    for (int c = 0; c < 8; c++)
        acc[0][c] = acc[1][c] = _mm512_setzero_pd();
#pragma GCC unroll 4
    for (ptrdiff_t p = 0; p < k; p++, a += csa, b += rsb) {
        const __m512d a0 = masked ? _mm512_maskz_loadu_pd(m0, a) : _mm512_loadu_pd(a);
        const __m512d a1 = masked ? _mm512_maskz_loadu_pd(m1, a + 8) : _mm512_loadu_pd(a + 8);
#pragma GCC unroll 8
        for (int c = 0; c < NC; c++) {
            const __m512d bc = _mm512_set1_pd(b[c]);
            acc[0][c] = _mm512_fmadd_pd(a0, bc, acc[0][c]);
            acc[1][c] = _mm512_fmadd_pd(a1, bc, acc[1][c]);
        }
    }
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++)
        transpose8_f64(acc[h]);
    columns_store_f64(acc, NC, rows, o, i, j);
}

#define COLUMNS_F64(NC)                                                                    \
    static void columns_f64_##NC(ptrdiff_t k, const void *a, ptrdiff_t csa, const void *b, \
                                 ptrdiff_t rsb, int rows, const gemm_out *o, ptrdiff_t i,  \
                                 ptrdiff_t j)                                              \
    {                                                                                      \
        if (rows == 16)                                                                    \
            columns_f64(NC, k, (const double *)a, csa, (const double *)b, rsb, 16, 0, o,   \
                        i, j);                                                             \
        else                                                                               \
            columns_f64(NC, k, (const double *)a, csa, (const double *)b, rsb, rows, 1, o, \
                        i, j);                                                             \
    }
COLUMNS_F64(1)
COLUMNS_F64(2)
COLUMNS_F64(3)
COLUMNS_F64(4)
COLUMNS_F64(5)
COLUMNS_F64(6)
COLUMNS_F64(7)
COLUMNS_F64(8)

gemm_columns_fn *const gemm_columns_f64_avx512[GEMM_MAX_COLUMNS + 1] = {
    NULL, columns_f64_1, columns_f64_2, columns_f64_3, columns_f64_4,
    columns_f64_5, columns_f64_6, columns_f64_7, columns_f64_8,
};
