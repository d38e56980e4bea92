/*
 * bf16_pack.c - float operands to packed bf16 panels (gemm_bf16_pack, layout in bf16.h),
 * rounding each value on the way. Plain C, so that it runs, and is tested, on every CPU;
 * the loops walk the source along its contiguous direction:
 *
 *   width-contiguous (sw == 1: rows of B in X W, columns of X^T in X^T dZ): one k group
 *     at a time, every width of the panel: contiguous reads, interleaved writes;
 *   otherwise (sd == 1: rows of X, columns of W^T in dZ W^T; or any strides): one width
 *     at a time along its depth, whole groups written contiguously.
 */
#include "bf16.h"

/* One panel: wn valid widths, from src (element (w, d) at src[w*sw + d*sd]). Inlined
 * with constant GROUP, so the index arithmetic is shifts and masks. */
static inline __attribute__((always_inline)) void
pack_panel(int GROUP, int panel, int wn, ptrdiff_t depth, ptrdiff_t depth_pad,
           const float *src, ptrdiff_t sw, ptrdiff_t sd, uint16_t *dst)
{
    const ptrdiff_t row = (ptrdiff_t)panel * GROUP; /* elements per k group */
    if (wn < panel || depth < depth_pad)
        memset(dst, 0, (size_t)(depth_pad / GROUP * row) * sizeof *dst);
    if (sw == 1) {
        for (ptrdiff_t d = 0; d < depth; d++) {
            const float *s = src + d * sd;
            uint16_t *o = dst + d / GROUP * row + d % GROUP;
            for (int w = 0; w < wn; w++)
                o[w * GROUP] = bf16_from_f32(s[w]);
        }
        return;
    }
    for (int w = 0; w < wn; w++) {
        const float *s = src + w * sw;
        uint16_t *o = dst + w * GROUP;
        for (ptrdiff_t d0 = 0; d0 < depth; d0 += GROUP) {
            const int dn = (int)gemm_min(GROUP, depth - d0);
            uint16_t *og = o + d0 / GROUP * row;
            for (int e = 0; e < dn; e++)
                og[e] = bf16_from_f32(s[(d0 + e) * sd]);
        }
    }
}

void gemm_bf16_pack(ptrdiff_t width, ptrdiff_t depth, ptrdiff_t depth_pad, const float *src,
                    ptrdiff_t sw, ptrdiff_t sd, int panel, int group, uint16_t *dst,
                    ptrdiff_t pstride)
{
    for (ptrdiff_t w0 = 0; w0 < width; w0 += panel, dst += pstride) {
        const int wn = (int)gemm_min(panel, width - w0);
        const float *s = src + w0 * sw;
        if (group == 2)
            pack_panel(2, panel, wn, depth, depth_pad, s, sw, sd, dst);
        else if (group == 32)
            pack_panel(32, panel, wn, depth, depth_pad, s, sw, sd, dst);
        else
            pack_panel(group, panel, wn, depth, depth_pad, s, sw, sd, dst);
    }
}
