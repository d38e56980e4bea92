/*
 * gemm.h - the GEMM's internal interfaces: the call as the driver sees it, how a
 * finished tile is written out, and the table of kernels one SIMD level provides.
 *
 * The driver (gemm.c, gemm_blocked.c, gemm_direct.c) is written once for both element
 * types: it moves void pointers and byte offsets and leaves all arithmetic to the
 * typed kernels it finds in a gemm_kernels table: each CPU level's translation unit
 * (cpu/<level>.c) defines its tables beside its kernels, and the driver takes the tables
 * of the level in use from fnn_cpu() (cpu/cpu.h). Sizes and strides are in elements, as
 * in fastnn.h. Only static inline functions live in this header.
 */
#ifndef FASTNN_GEMM_H
#define FASTNN_GEMM_H

#include <stddef.h>

#include "fastnn.h"

#define GEMM_ALIGN 64       /* bytes: packed panels and scratch slots start on cache lines */
#define GEMM_MAX_ROWS 16    /* rows of a register tile, at most */
#define GEMM_MAX_NV 16      /* vectors per row of a register tile, at most */
#define GEMM_MAX_TILE 24    /* vectors in a register tile, at most */
#define GEMM_MAX_COLUMNS 12 /* columns of a column kernel, at most */

/* How a finished tile of C is written: c = epilogue(alpha * acc + beta * c).
 * The blocked driver, which sums K in several blocks, writes the first block with the
 * caller's beta and no epilogue, later blocks with beta = 1, and only the last block
 * with the caller's epilogue. beta == 0 means C is not read. */
typedef struct gemm_out {
    int elsize;         /* 4: float, 8: double */
    void *c;
    ptrdiff_t ldc;
    double alpha, beta; /* exact for float too: a float converts to double and back */
    int mode;           /* enum fnn_epi_mode */
    int act;            /* enum fnn_act */
    double act_param;
    const void *bias;   /* FORWARD: n values or NULL */
    void *z;            /* FORWARD: pre-activation out, or NULL */
    ptrdiff_t ldz;
    const void *aux;    /* ACT_GRAD: activation output (GELU: input), m x n */
    ptrdiff_t ld_aux;
} gemm_out;

/* Whether the epilogue's activation runs in registers inside the kernels' store
 * (LINEAR, RELU) or afterwards on each finished row segment (gemm_finish_rows). */
static inline int gemm_act_in_register(int act)
{
    return act == FNN_ACT_LINEAR || act == FNN_ACT_RELU;
}

/* ----------------------------------------------------------------------- kernels
 * Every kernel writes a tile C[i .. i+mr, j .. j+nr) through `o` (gemm_out above) and
 * never accumulates beyond what o->beta says. The sum over p runs in order p = 0, 1,
 * ..., k-1, one fused multiply-add per term and element (SIMD levels) or one multiply
 * and one add (portable level), so that a given element is computed identically by
 * every kernel of a level, whatever tile it falls in. */

/* Packed: A is an MR-row micro-panel (element (r, p) at a[p*MR + r]), B an NR-column
 * micro-panel (element (p, c) at b[p*NR + c]), both zero-padded to full width, kc >= 1.
 * Computes the whole MR x NR tile; writes its first mr rows and nr columns. */
typedef void gemm_packed_fn(ptrdiff_t kc, const void *a, const void *b, int mr, int nr,
                            const gemm_out *o, ptrdiff_t i, ptrdiff_t j);

/* Strided ("no packing"): rows is fixed per function (the table's strided[rows]);
 * A(r, p) at a[r*rsa + p*csa], B(p, c) at b[p*rsb + c] (unit column stride). Reads only
 * the k x nr block of B and rows x k block of A it needs; nr <= the function's width. */
typedef void gemm_strided_fn(ptrdiff_t k, const void *a, ptrdiff_t rsa, ptrdiff_t csa,
                             const void *b, ptrdiff_t rsb, int nr, const gemm_out *o,
                             ptrdiff_t i, ptrdiff_t j);

/* Row GEMV: the one row of C at (i, j), n columns (any n), from A(0, p) at a[p*csa] and
 * B(p, c) at b[p*rsb + c], B read a few rows at a time across all n columns; `acc` is
 * n elements of scratch for the partial sums. Same bits as the strided kernels. */
typedef void gemm_gemv_fn(ptrdiff_t k, const void *a, ptrdiff_t csa, const void *b,
                          ptrdiff_t rsb, ptrdiff_t n, void *acc, const gemm_out *o, ptrdiff_t i,
                          ptrdiff_t j);

/* Column kernels (narrow C, A with unit row stride): the function for NC columns
 * computes rows <= the table's columns_rows rows x NC columns, A(r, p) at a[r + p*csa],
 * B(p, c) at b[p*rsb + c]; see gemm_columns_avx512.inc. */
typedef void gemm_columns_fn(ptrdiff_t k, const void *a, ptrdiff_t csa, const void *b,
                             ptrdiff_t rsb, int rows, const gemm_out *o, ptrdiff_t i,
                             ptrdiff_t j);

/* Packing: copy a width x depth slab, element (w, d) at src[w*sw + d*sd], into panels
 * of `panel` widths: panel q holds widths q*panel .. q*panel+panel-1 laid out as
 * [d][w % panel], zero-filled past `width`; consecutive panels start pstride elements
 * apart. A block of A is packed with (width, depth) = (rows, k), B with (cols, k). */
typedef void gemm_pack_fn(ptrdiff_t width, ptrdiff_t depth, const void *src, ptrdiff_t sw,
                          ptrdiff_t sd, int panel, void *dst, ptrdiff_t pstride);

/* The portable packing routines (the scalar level's, in gemm_portable_kernel.inc): the
 * SIMD levels' own packing falls back to them for strides it does not specialise. */
gemm_pack_fn gemm_pack_portable_f32, gemm_pack_portable_f64;

/* What one SIMD level offers for one element type. Block sizes live here, one set
 * per level and type, each with the reasoning next to its table. */
typedef struct gemm_kernels {
    const char *name;
    int elsize;             /* bytes per element */
    /* the packed path */
    int mr, nr;             /* register tile */
    int mc, kc, nc;         /* cache blocks: multiples of mr, (any), nr */
    gemm_packed_fn *packed;
    gemm_pack_fn *pack;
    /* optional: a wider packed tile, mr x nr_wide, for products whose N it fills */
    int nr_wide;
    gemm_packed_fn *packed_wide;
    /* the direct path: strided[r] computes r rows, 1 <= r <= strided_rows, in column
     * steps of strided_cols[r] from B in place; panel[r] r rows x nr columns from B
     * packed into nr-wide panels (NULL: strided[r], when it is nr wide); a K x NC block
     * of B of at most direct_b_bytes is kept in L2 while every row of A passes */
    int strided_rows;
    int strided_cols[GEMM_MAX_ROWS + 1];
    gemm_strided_fn *strided[GEMM_MAX_ROWS + 1];
    gemm_strided_fn *panel[GEMM_MAX_ROWS + 1];
    size_t direct_b_bytes;
    /* optional: a row GEMV for one row of C wider than strided_cols[1] (one pass over
     * B instead of a strided pass per strip) */
    gemm_gemv_fn *gemv;
    /* optional: half[r] computes r rows in strips of half strided_cols[r], for a strip
     * that narrow (a GEMV of 128 columns, or its half of 256 on one of two threads) */
    gemm_strided_fn *half[GEMM_MAX_ROWS + 1];
    /* optional: narrow[r] computes r rows of at most narrow_cols columns, for the last
     * strip of a row block when it is that narrow (narrow_cols 0: none) */
    int narrow_cols;
    gemm_strided_fn *narrow[GEMM_MAX_ROWS + 1];
    /* optional: column kernels for C of at most columns_max columns when A has unit
     * row stride, columns[nc] for nc columns, columns_rows rows at a time */
    int columns_max, columns_rows;
    gemm_columns_fn *const *columns;
} gemm_kernels;

/* ----------------------------------------------------------------------- epilogue */

/* The activation part of the epilogue that kernels do not do in registers: applied to
 * the rows x cols block at C[i, j] (already holding alpha*acc + beta*c, plus bias in
 * FORWARD mode) when o->act is not LINEAR or RELU. Kernels call it after their store. */
void gemm_finish_rows(const gemm_out *o, ptrdiff_t i, ptrdiff_t j, ptrdiff_t rows,
                      ptrdiff_t cols);

/* ----------------------------------------------------------------------- drivers */

/* The operands of one call; C and the epilogue are in `out`. */
typedef struct gemm_operands {
    const void *a;
    ptrdiff_t rsa, csa;
    const void *b;
    ptrdiff_t rsb, csb;
    ptrdiff_t k;
} gemm_operands;

/* A rectangle of C one thread computes: rows [i0, i1), columns [j0, j1). */
typedef struct gemm_region {
    ptrdiff_t i0, i1, j0, j1;
} gemm_region;

/* Geometry of the blocked path's packing buffers for a call, shared by the driver and
 * the scratch-size query so they cannot disagree. */
typedef struct gemm_blocking {
    int nr;              /* the tile's columns: the table's nr or nr_wide */
    gemm_packed_fn *kernel;
    ptrdiff_t kc;        /* the K block (K split into equal blocks of at most KC) */
    ptrdiff_t mc, nc;    /* M and N blocks */
    ptrdiff_t a_pstride; /* elements between A micro-panels */
    ptrdiff_t b_pstride; /* elements between B micro-panels */
    size_t slot_bytes;   /* one thread's packing buffers: A block then B block */
} gemm_blocking;

gemm_blocking gemm_blocking_for(const gemm_kernels *t, ptrdiff_t m, ptrdiff_t n,
                                ptrdiff_t k);

/* Geometry of the direct path for a call (gemm_direct.c). */
typedef struct gemm_direct_plan {
    ptrdiff_t nc;        /* columns of B per block (a multiple of nr) */
    int pack_b;          /* B's columns are not contiguous: each block is packed */
    int gemv;            /* one row of C, wide: the row GEMV, acc in the slot */
    ptrdiff_t b_pstride; /* elements between packed B panels */
    size_t slot_bytes;   /* one thread's buffer: packed B, or the GEMV's partial sums */
} gemm_direct_plan;

gemm_direct_plan gemm_direct_plan_for(const gemm_kernels *t, ptrdiff_t m, ptrdiff_t n,
                                      ptrdiff_t k, int pack_b);

/* The direct path over one region, using a slot of plan->slot_bytes bytes. */
void gemm_direct_region(const gemm_kernels *t, const gemm_direct_plan *plan,
                        const gemm_operands *op, const gemm_out *o, gemm_region r, void *slot);
/* The packed (BLIS) path over one region, using a slot of blk.slot_bytes bytes. */
void gemm_blocked_region(const gemm_kernels *t, const gemm_blocking *blk,
                         const gemm_operands *op, const gemm_out *o, gemm_region r,
                         void *slot);

/* B (k x n) packed once for the packed path of any number of calls: its size for the
 * level of t, the packing, and the region over it (gemm_blocked.c). */
size_t gemm_pack_b_whole_bytes(const gemm_kernels *t, ptrdiff_t n, ptrdiff_t k);
void gemm_pack_b_whole(const gemm_kernels *t, ptrdiff_t n, ptrdiff_t k, const void *b,
                       ptrdiff_t rsb, ptrdiff_t csb, void *dst);
void gemm_blocked_region_packed_b(const gemm_kernels *t, const gemm_blocking *blk,
                                  const gemm_operands *op, const gemm_out *o, gemm_region r,
                                  void *slot, const void *packed_b, ptrdiff_t n);

/* ----------------------------------------------------------------------- helpers */

static inline const void *gemm_at(const void *p, ptrdiff_t elements, int elsize)
{
    return (const char *)p + elements * (ptrdiff_t)elsize;
}

static inline ptrdiff_t gemm_min(ptrdiff_t x, ptrdiff_t y) { return x < y ? x : y; }
static inline ptrdiff_t gemm_max(ptrdiff_t x, ptrdiff_t y) { return x > y ? x : y; }
static inline ptrdiff_t gemm_ceil_div(ptrdiff_t x, ptrdiff_t y) { return (x + y - 1) / y; }
static inline ptrdiff_t gemm_round_up(ptrdiff_t x, ptrdiff_t y)
{
    return gemm_ceil_div(x, y) * y;
}

/* Elements of panel storage for `elements` values: whole cache lines, and never a
 * multiple of 4 KiB, so consecutive panels do not alias in L1 while being packed. */
static inline ptrdiff_t gemm_panel_stride(ptrdiff_t elements, int elsize)
{
    ptrdiff_t line = GEMM_ALIGN / elsize;
    ptrdiff_t stride = gemm_round_up(elements, line);
    if ((stride * elsize) % 4096 == 0)
        stride += line;
    return stride;
}

#endif /* FASTNN_GEMM_H */
