/*
 * bf16_pack.c - float operands to packed bf16 panels (gemm_bf16_pack, layout in bf16.h),
 * rounding each value on the way. Plain C (integer operations only: the same values
 * whatever the compiler makes of it), written so that the compiler vectorises the
 * rounding: every inner loop reads the source along its contiguous direction and
 * writes a contiguous run; where the layout needs the other order, a small block is
 * rounded into a staging buffer first and then transposed with 16-bit moves.
 *
 *   group 2 (k pairs), width-contiguous source (sw == 1: rows of B in X W, of dZ in
 *     X^T dZ, columns of X^T): per k pair, the two source rows interleaved;
 *   group 2, depth-contiguous source (sd == 1: rows of X, columns of W^T in dZ W^T):
 *     a panel x 32-k block rounded per width, then transposed pair by pair;
 *   group 32 (AMX's A), depth-contiguous: each width's 32-k run is a contiguous run;
 *   group 32, width-contiguous: a 32-k x panel block rounded per depth, transposed;
 *   any other strides: element by element.
 */
#include "bf16.h"

#define BLOCK_DEPTH 32 /* depths per staged block (a multiple of both groups) */
#define MAX_PANEL 32   /* the widest panel a table packs */

/* out[i] = bf16 of s[i * step], i < n: the loop the compiler vectorises (step 1). */
static inline void round_run(ptrdiff_t n, const float *s, ptrdiff_t step, uint16_t *out)
{
    if (step == 1) {
        for (ptrdiff_t i = 0; i < n; i++)
            out[i] = bf16_from_f32(s[i]);
    } else {
        for (ptrdiff_t i = 0; i < n; i++)
            out[i] = bf16_from_f32(s[i * step]);
    }
}

/* Group 2, sw == 1: k pair q of every width is (row 2q, row 2q+1) interleaved. */
static void pairs_along_width(int panel, int wn, ptrdiff_t depth, const float *src,
                              ptrdiff_t sd, uint16_t *dst)
{
    for (ptrdiff_t d = 0; d < depth; d += 2, dst += 2 * panel) {
        const float *lo = src + d * sd, *hi = lo + sd;
        if (d + 1 < depth) {
            for (int w = 0; w < wn; w++) {
                dst[2 * w] = bf16_from_f32(lo[w]);
                dst[2 * w + 1] = bf16_from_f32(hi[w]);
            }
        } else { /* odd depth: the last pair's second half stays zero */
            for (int w = 0; w < wn; w++)
                dst[2 * w] = bf16_from_f32(lo[w]);
        }
    }
}

/* Group 2, any source whose depth direction is the one to read along (sd == 1): each
 * width's run of up to BLOCK_DEPTH depths is rounded into stage[w], then pair p of
 * width w moves to dst[p * 2 panel + 2 w]. */
static void pairs_along_depth(int panel, int wn, ptrdiff_t depth, const float *src,
                              ptrdiff_t sw, ptrdiff_t sd, uint16_t *dst)
{
    uint16_t stage[MAX_PANEL][BLOCK_DEPTH];
    for (ptrdiff_t d0 = 0; d0 < depth; d0 += BLOCK_DEPTH) {
        const int dn = (int)gemm_min(BLOCK_DEPTH, depth - d0);
        for (int w = 0; w < wn; w++) {
            round_run(dn, src + w * sw + d0 * sd, sd, stage[w]);
            if (dn & 1)
                stage[w][dn] = 0; /* odd depth: the pad of the last pair */
        }
        uint16_t *out = dst + d0 / 2 * 2 * panel;
        for (int p = 0; p < (dn + 1) / 2; p++, out += 2 * panel)
            for (int w = 0; w < wn; w++) {
                out[2 * w] = stage[w][2 * p];
                out[2 * w + 1] = stage[w][2 * p + 1];
            }
    }
}

/* Group 32, sd == 1 (or any strides): each width's 32-k run is contiguous in dst. */
static void runs_along_depth(int panel, int wn, ptrdiff_t depth, const float *src,
                             ptrdiff_t sw, ptrdiff_t sd, uint16_t *dst)
{
    for (ptrdiff_t d0 = 0; d0 < depth; d0 += 32) {
        const ptrdiff_t dn = gemm_min(32, depth - d0);
        uint16_t *out = dst + d0 / 32 * 32 * panel;
        for (int w = 0; w < wn; w++)
            round_run(dn, src + w * sw + d0 * sd, sd, out + 32 * w);
    }
}

/* Group 32, sw == 1: a 32-k x wn block rounded along the widths into stage[d], then
 * transposed: dst[(d / 32) * 32 panel + 32 w + d % 32] = stage[d % 32][w]. */
static void runs_along_width(int panel, int wn, ptrdiff_t depth, const float *src,
                             ptrdiff_t sd, uint16_t *dst)
{
    uint16_t stage[32][MAX_PANEL];
    for (ptrdiff_t d0 = 0; d0 < depth; d0 += 32) {
        const int dn = (int)gemm_min(32, depth - d0);
        for (int d = 0; d < dn; d++)
            round_run(wn, src + (d0 + d) * sd, 1, stage[d]);
        uint16_t *out = dst + d0 / 32 * 32 * panel;
        for (int w = 0; w < wn; w++)
            for (int d = 0; d < dn; d++)
                out[32 * w + d] = stage[d][w];
    }
}

/* Any strides, any group: element by element. */
static void elements(int panel, int group, int wn, ptrdiff_t depth, const float *src,
                     ptrdiff_t sw, ptrdiff_t sd, uint16_t *dst)
{
    for (int w = 0; w < wn; w++)
        for (ptrdiff_t d = 0; d < depth; d++)
            dst[d / group * panel * group + w * group + d % group] =
                bf16_from_f32(src[w * sw + d * sd]);
}

void gemm_bf16_pack(ptrdiff_t width, ptrdiff_t depth, ptrdiff_t depth_pad, const float *src,
                    ptrdiff_t sw, ptrdiff_t sd, int panel, int group, uint16_t *dst,
                    ptrdiff_t pstride)
{
    for (ptrdiff_t w0 = 0; w0 < width; w0 += panel, dst += pstride) {
        const int wn = (int)gemm_min(panel, width - w0);
        const float *s = src + w0 * sw;
        /* zeros where no value lands: past the width, past the depth */
        if (wn < panel || gemm_round_up(depth, group) < depth_pad)
            memset(dst, 0, (size_t)(depth_pad * panel) * sizeof *dst);
        else if (depth % group != 0) /* only the last group's tail: the kernels read it */
            memset(dst + depth / group * group * panel, 0,
                   (size_t)(group * panel) * sizeof *dst);
        if (panel > MAX_PANEL || (group != 2 && group != 32))
            elements(panel, group, wn, depth, s, sw, sd, dst);
        else if (group == 2 && sw == 1)
            pairs_along_width(panel, wn, depth, s, sd, dst);
        else if (group == 2)
            pairs_along_depth(panel, wn, depth, s, sw, sd, dst);
        else if (sw == 1 && sd != 1)
            runs_along_width(panel, wn, depth, s, sd, dst);
        else
            runs_along_depth(panel, wn, depth, s, sw, sd, dst);
    }
}
