/*
 * gemm_blocked.c - the packed path over one region of C, after BLIS:
 *
 *   for jc in N by NC:                       a B block, kc x nc, packed: stays in L2
 *     for pc in K by KC (equal blocks):
 *       pack B[pc.., jc..] into NR-wide micro-panels
 *       for ic in M by MC:
 *         pack A[ic.., pc..] into MR-tall micro-panels
 *         for ir in mc by MR:                 one A micro-panel (kc x MR) stays in L1
 *           for jr in nc by NR:               B micro-panels stream from L2
 *             micro-kernel: C[ic+ir.., jc+jr..] (+)= A panel * B panel
 *
 * The roles of BLIS's A and B are exchanged because our C is row-major and the vector
 * direction of the register tile runs along its rows (N): B micro-panels are what the
 * kernel loads as vectors, A micro-panels what it broadcasts.
 *
 * K is cut into equal blocks (K = 784 with KC 384: 3 x 264, not 384 + 384 + 16) so no
 * pass over C is spent on a sliver. The first block writes C with the caller's beta,
 * later blocks add to it, and only the last applies the epilogue.
 */
#include "gemm/gemm.h"

gemm_blocking gemm_blocking_for(const gemm_kernels *t, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k)
{
    gemm_blocking blk;
    /* The wide tile where it wastes under 3 % on the last, partial strip of N (it is
     * ~4 % faster per FMA: 2048 columns yes, 256 no). */
    blk.nr = t->nr, blk.kernel = t->packed;
    if (t->packed_wide && 100 * gemm_round_up(n, t->nr_wide) <= 103 * n)
        blk.nr = t->nr_wide, blk.kernel = t->packed_wide;
    ptrdiff_t kblocks = gemm_ceil_div(gemm_max(k, 1), t->kc);
    blk.kc = gemm_min(gemm_round_up(gemm_ceil_div(gemm_max(k, 1), kblocks), 8), t->kc);
    blk.mc = gemm_min(t->mc, gemm_round_up(m, t->mr));
    blk.nc = gemm_min(t->nc / blk.nr * blk.nr, gemm_round_up(n, blk.nr));
    blk.a_pstride = gemm_panel_stride(t->mr * blk.kc, t->elsize);
    blk.b_pstride = gemm_panel_stride(blk.nr * blk.kc, t->elsize);
    size_t a_bytes = (size_t)(blk.mc / t->mr * blk.a_pstride) * (size_t)t->elsize;
    size_t b_bytes = (size_t)(gemm_ceil_div(blk.nc, blk.nr) * blk.b_pstride) * (size_t)t->elsize;
    blk.slot_bytes = a_bytes + b_bytes;
    return blk;
}

/* The macro-kernel: every MR x NR tile of an mc x nc block from its packed panels. */
static void macro_kernel(const gemm_kernels *t, const gemm_blocking *blk, ptrdiff_t mc,
                         ptrdiff_t nc, ptrdiff_t kc, const char *ap, const char *bp,
                         const gemm_out *o, ptrdiff_t i0, ptrdiff_t j0)
{
    const ptrdiff_t a_step = blk->a_pstride * t->elsize, b_step = blk->b_pstride * t->elsize;
    for (ptrdiff_t ir = 0; ir < mc; ir += t->mr, ap += a_step) {
        const int mr = (int)gemm_min(t->mr, mc - ir);
        const char *b = bp;
        for (ptrdiff_t jr = 0; jr < nc; jr += blk->nr, b += b_step) {
            const int nr = (int)gemm_min(blk->nr, nc - jr);
            blk->kernel(kc, ap, b, mr, nr, o, i0 + ir, j0 + jr);
        }
    }
}

/* The packed path over region r; B's blocks packed here into the slot, or, where
 * packed_b is not NULL, read from B packed once for the whole call (gemm_pack_b_whole:
 * for each K block p, the panels of all n columns in order, panel q of block p at
 * (p * panels + q) * b_pstride). The same loops and kernels either way: the same bits. */
static void blocked_region(const gemm_kernels *t, const gemm_blocking *blk,
                           const gemm_operands *op, const gemm_out *o, gemm_region r,
                           void *slot, const void *packed_b, ptrdiff_t n)
{
    const int es = t->elsize;
    char *apack = (char *)slot;
    char *bpack = apack + (size_t)(blk->mc / t->mr * blk->a_pstride) * (size_t)es;
    const ptrdiff_t k = op->k, panels = gemm_ceil_div(n, blk->nr);

    /* The epilogue of each K block: caller's beta on the first, its epilogue on the last. */
    gemm_out first = *o, middle = *o, last = *o;
    first.mode = middle.mode = FNN_EPI_NONE;
    middle.beta = last.beta = 1;

    for (ptrdiff_t jc = r.j0; jc < r.j1; jc += blk->nc) {
        const ptrdiff_t nc = gemm_min(blk->nc, r.j1 - jc);
        for (ptrdiff_t pc = 0; pc < k; pc += blk->kc) {
            const ptrdiff_t kc = gemm_min(blk->kc, k - pc);
            const gemm_out *out = pc + kc >= k ? (pc == 0 ? o : &last)
                                               : (pc == 0 ? &first : &middle);
            const char *b_block = bpack;
            if (packed_b)
                b_block = (const char *)packed_b +
                          ((pc / blk->kc) * panels + jc / blk->nr) * blk->b_pstride * es;
            else
                t->pack(nc, kc, gemm_at(op->b, pc * op->rsb + jc * op->csb, es), op->csb,
                        op->rsb, blk->nr, bpack, blk->b_pstride);
            for (ptrdiff_t ic = r.i0; ic < r.i1; ic += blk->mc) {
                const ptrdiff_t mc = gemm_min(blk->mc, r.i1 - ic);
                t->pack(mc, kc, gemm_at(op->a, ic * op->rsa + pc * op->csa, es), op->rsa,
                        op->csa, t->mr, apack, blk->a_pstride);
                macro_kernel(t, blk, mc, nc, kc, apack, b_block, out, ic, jc);
            }
        }
    }
}

void gemm_blocked_region(const gemm_kernels *t, const gemm_blocking *blk,
                         const gemm_operands *op, const gemm_out *o, gemm_region r,
                         void *slot)
{
    blocked_region(t, blk, op, o, r, slot, NULL, 0);
}

void gemm_blocked_region_packed_b(const gemm_kernels *t, const gemm_blocking *blk,
                                  const gemm_operands *op, const gemm_out *o, gemm_region r,
                                  void *slot, const void *packed_b, ptrdiff_t n)
{
    blocked_region(t, blk, op, o, r, slot, packed_b, n);
}

size_t gemm_pack_b_whole_bytes(const gemm_kernels *t, ptrdiff_t n, ptrdiff_t k)
{
    const gemm_blocking blk = gemm_blocking_for(t, 1, n, k);
    const ptrdiff_t kblocks = gemm_ceil_div(gemm_max(k, 1), blk.kc);
    return (size_t)(kblocks * gemm_ceil_div(n, blk.nr) * blk.b_pstride) * (size_t)t->elsize;
}

void gemm_pack_b_whole(const gemm_kernels *t, ptrdiff_t n, ptrdiff_t k, const void *b,
                       ptrdiff_t rsb, ptrdiff_t csb, void *dst)
{
    const gemm_blocking blk = gemm_blocking_for(t, 1, n, k);
    const int es = t->elsize;
    const ptrdiff_t panels = gemm_ceil_div(n, blk.nr);
    for (ptrdiff_t pc = 0; pc < k; pc += blk.kc)
        t->pack(n, gemm_min(blk.kc, k - pc), gemm_at(b, pc * rsb, es), csb, rsb, blk.nr,
                (char *)dst + (pc / blk.kc) * panels * blk.b_pstride * es, blk.b_pstride);
}
