/*
 * gemm_direct.c - the direct path over one region of C: every tile sums its whole K in
 * registers and is written once, through the epilogue. A is read where it lies (any
 * strides: the kernels broadcast its elements); B where it lies when its columns are
 * contiguous, otherwise from a copy of the current block packed into NR-wide panels.
 *
 *   for jc in N by NC:                    a K x NC block of B, kept in L2
 *     [pack B[:, jc ..] into panels]      only when B's columns are not contiguous
 *     for i in M by ROWS:                 ROWS rows of A (ROWS x K) stay in L1
 *       for j in jc .. by the kernel's width:   strips of B stream from L2
 *         kernel: C[i.., j..] = epilogue(A[i.., :] B[:, j..])
 *
 * With no K blocking there are no partial sums to store and reload, and the epilogue
 * (bias, activation) is applied to the finished sums in registers. This is the path for
 * every product whose K fits a few rows of A in L1 (an MLP's layers up to K ~ 1000 with
 * float): X W, X^T dY (A^T read in place, no transposing copy) and dY W^T (W packed).
 *
 * Few rows take wider strips (the last row block uses the kernel for exactly its row
 * count: one row is a GEMV reading whole rows of B). A strip of at most narrow_cols
 * columns (the last one, or all of an N = 10 layer) gets the narrow kernel. When, in
 * addition, A's columns are contiguous (X^T dZ), column kernels run their vectors down
 * C's columns instead, so that no lane is idle.
 */
#include "gemm/gemm.h"

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

/* Rows [i0, i1) x columns [j0, j1) of C from B(p, c) at b[p*rsb + c - j0]: in place
 * (rsb the caller's) or packed (rsb = nr, panels pstride apart). */
static void direct_block(const gemm_kernels *t, const gemm_operands *op, const gemm_out *o,
                         ptrdiff_t i0, ptrdiff_t i1, ptrdiff_t j0, ptrdiff_t j1, const char *b,
                         ptrdiff_t rsb, ptrdiff_t pstride)
{
    const int es = t->elsize;
    for (ptrdiff_t i = i0; i < i1; i += t->strided_rows) {
        const int rows = (int)gemm_min(t->strided_rows, i1 - i);
        gemm_strided_fn *kernel = pstride ? t->panel[rows] : t->strided[rows];
        const ptrdiff_t width = pstride ? t->nr : t->strided_cols[rows];
        const void *a = gemm_at(op->a, i * op->rsa, es);
        for (ptrdiff_t j = j0; j < j1; j += width) {
            const int nr = (int)gemm_min(width, j1 - j);
            const char *bj = pstride ? b + (j - j0) / t->nr * pstride * es : b + (j - j0) * es;
            gemm_strided_fn *fn = kernel;
            if (nr <= t->narrow_cols)
                fn = t->narrow[rows];
            else if (!pstride && t->half[rows] && 2 * nr <= width)
                fn = t->half[rows];
            fn(op->k, a, op->rsa, op->csa, bj, rsb, nr, o, i, j);
        }
    }
}

gemm_direct_plan gemm_direct_plan_for(const gemm_kernels *t, ptrdiff_t m, ptrdiff_t n,
                                      ptrdiff_t k, int pack_b)
{
    gemm_direct_plan plan;
    /* As many columns as keep the K x NC block of B within the L2 share, whole panels. */
    ptrdiff_t nc = (ptrdiff_t)(t->direct_b_bytes / ((size_t)gemm_max(k, 1) * (size_t)t->elsize));
    nc = gemm_max(t->nr, nc / t->nr * t->nr);
    plan.nc = gemm_min(nc, gemm_round_up(gemm_max(n, 1), t->nr));
    plan.pack_b = pack_b;
    plan.b_pstride = pack_b ? gemm_panel_stride(t->nr * gemm_max(k, 1), t->elsize) : 0;
    plan.slot_bytes =
        pack_b ? (size_t)(plan.nc / t->nr * plan.b_pstride) * (size_t)t->elsize : 0;
    /* One row reads B once, nothing to keep in L2: the row GEMV, over all columns. */
    plan.gemv = m == 1 && k > 0 && !pack_b && t->gemv && n > t->strided_cols[1];
    if (plan.gemv) {
        plan.nc = gemm_round_up(n, t->nr);
        plan.slot_bytes = (size_t)plan.nc * (size_t)t->elsize;
    }
    return plan;
}

void gemm_direct_region(const gemm_kernels *t, const gemm_direct_plan *plan,
                        const gemm_operands *op, const gemm_out *o, gemm_region r, void *slot)
{
    const int es = t->elsize;
    if (op->csb == 1 && op->rsa == 1 && r.j1 - r.j0 <= t->columns_max && r.j1 > r.j0 &&
        op->k > 0) {
        columns_region(t, op, o, r);
        return;
    }
    if (plan->gemv) {
        for (ptrdiff_t i = r.i0; i < r.i1; i++)
            t->gemv(op->k, gemm_at(op->a, i * op->rsa, es), op->csa,
                    gemm_at(op->b, r.j0, es), op->rsb, r.j1 - r.j0, slot, o, i, r.j0);
        return;
    }
    for (ptrdiff_t jc = r.j0; jc < r.j1; jc += plan->nc) {
        const ptrdiff_t jn = gemm_min(jc + plan->nc, r.j1);
        const char *b = (const char *)gemm_at(op->b, jc * op->csb, es);
        if (plan->pack_b) {
            t->pack(jn - jc, op->k, b, op->csb, op->rsb, t->nr, slot, plan->b_pstride);
            direct_block(t, op, o, r.i0, r.i1, jc, jn, (const char *)slot, t->nr,
                         plan->b_pstride);
        } else {
            direct_block(t, op, o, r.i0, r.i1, jc, jn, b, op->rsb, 0);
        }
    }
}
