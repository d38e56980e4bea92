/*
 * gemm_small.c - the no-packing path over one region of C, for the problems where
 * packing does not pay: few rows (batch 1..64), or little work in all. The strided
 * kernels read B (unit column stride) and A (any strides) where they lie.
 *
 * Rows go in blocks of the table's strided_rows; each block sweeps the region's
 * columns, so its rows of A stay in L1 while B streams from L2. The last, shorter
 * block uses the kernel for exactly its row count, which may be wider (a 1-row kernel
 * covers more columns to keep enough independent sums in flight: batch 1 is a GEMV).
 * A strip of at most narrow_cols columns (the last one, or all of an N = 10 output
 * layer) gets the narrow kernel, which spends no multiply-adds on absent columns.
 * When, in addition, A's columns are contiguous (X^T dZ), column kernels run their
 * vectors down C's columns instead, so that no lane is idle.
 */
#include "gemm.h"

/* C of at most columns_max columns with A's columns contiguous: column kernels, whose
 * vectors run down C's columns (no lanes spent on absent columns). */
static void columns_region(const gemm_kernels *t, const gemm_operands *op, const gemm_out *o,
                           gemm_region r)
{
    gemm_columns_fn *kernel = t->columns[r.j1 - r.j0];
    const void *b = gemm_at(op->b, r.j0, t->elsize);
    for (ptrdiff_t i = r.i0; i < r.i1; i += t->columns_rows) {
        const int rows = (int)gemm_min(t->columns_rows, r.i1 - i);
        kernel(op->k, gemm_at(op->a, i, t->elsize), op->csa, b, op->rsb, rows, o, i, r.j0);
    }
}

void gemm_small_region(const gemm_kernels *t, const gemm_operands *op, const gemm_out *o,
                       gemm_region r)
{
    const int es = t->elsize;
    if (op->rsa == 1 && r.j1 - r.j0 <= t->columns_max && r.j1 > r.j0 && op->k > 0) {
        columns_region(t, op, o, r);
        return;
    }
    for (ptrdiff_t i = r.i0; i < r.i1; i += t->strided_rows) {
        const int rows = (int)gemm_min(t->strided_rows, r.i1 - i);
        gemm_strided_fn *kernel = t->strided[rows];
        const ptrdiff_t width = t->strided_cols[rows];
        const void *a = gemm_at(op->a, i * op->rsa, es);
        for (ptrdiff_t j = r.j0; j < r.j1; j += width) {
            const int nr = (int)gemm_min(width, r.j1 - j);
            gemm_strided_fn *fn = nr <= t->narrow_cols ? t->narrow[rows] : kernel;
            fn(op->k, a, op->rsa, op->csa, gemm_at(op->b, j, es), op->rsb, nr, o, i, j);
        }
    }
}
