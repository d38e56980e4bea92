/*
 * gemm.c - fnn_sgemm / fnn_dgemm: choose the path (no packing or packed), split C
 * among threads, and hand each thread its region and its slot of scratch.
 *
 * Threads split C into a grid of rectangles aligned to the kernels' tiles (N and/or
 * M, never K): every element of C is computed by one thread in one fixed order, and
 * since neither the path, the K blocking nor the tile grid depends on the thread
 * count, results are bitwise identical for any number of threads.
 */
#include <stdio.h>
#include <stdlib.h>

#include "gemm.h"

#ifdef FASTNN_HAVE_OPENMP
#include <omp.h>
#endif

/* Below this much work a call runs on the calling thread alone: waking a team costs
 * about 1 us, as much as ~0.5 MFLOP of work on one core. */
#define PARALLEL_MIN_FLOPS 5e5

/* The direct path (gemm_direct.c) serves up to this many rows of C, ... */
#define DIRECT_MAX_ROWS 64

/* ... or any product this small (packing A costs more than it saves), ... */
#define DIRECT_MAX_FLOPS 2e5

/* ... or, when A's rows are contiguous, any product whose rows of A are at most this
 * long: a block of them stays in L1 while it meets every column of B. */
#define DIRECT_MAX_ROW_BYTES 4096

/* B is read in place when its rows are at most this far apart: further, and every k
 * step of a strip opens a new 4 KiB page (a TLB miss per row), so B is packed. */
#define DIRECT_MAX_B_ROW_BYTES 2048

/* Whether the direct path serves the call. Shapes and strides only decide it (and,
 * inside the path, whether B is packed), so every bit of C is the same for any thread
 * count. A^T (X^T dY) with long rows goes to the packed path: read in place, each k
 * step of a tile would load a different row of X, so a page per step. */
static int use_direct_path(const gemm_kernels *t, const gemm_operands *op, ptrdiff_t m,
                           ptrdiff_t n)
{
    static int force = -1;
    if (force < 0) {
        const char *e = getenv("FASTNN_GEMM_PATH");
        force = e ? e[0] : 0;
    }
    if (force == 'd')
        return 1;
    if (force == 'p')
        return 0;
    if (m <= DIRECT_MAX_ROWS || n <= t->nr ||
        2.0 * (double)m * (double)n * (double)op->k <= DIRECT_MAX_FLOPS)
        return 1;
    return op->csa == 1 && op->k * t->elsize <= DIRECT_MAX_ROW_BYTES;
}

/* Whether the direct path packs B: its columns are not contiguous, or its rows are far
 * apart and enough rows of C will read them. */
static int direct_packs_b(const gemm_kernels *t, const gemm_operands *op, ptrdiff_t m)
{
    if (op->csb != 1)
        return 1;
    return m > DIRECT_MAX_ROWS && op->rsb * t->elsize > DIRECT_MAX_B_ROW_BYTES;
}

/* The grid of regions: rows in units of `ra` elements, columns of `ca`. */
typedef struct grid {
    int tm, tn;
    ptrdiff_t m, n, ra, ca;
} grid;

/* The grid of at most `threads` regions with the smallest largest region (that is the
 * time a call takes), then the fewest regions, then the least packing (rows + cols). */
static grid choose_grid(ptrdiff_t m, ptrdiff_t n, ptrdiff_t ra, ptrdiff_t ca, int threads)
{
    const ptrdiff_t um = gemm_ceil_div(m, ra), un = gemm_ceil_div(n, ca);
    grid best = {1, 1, m, n, ra, ca};
    double best_area = (double)m * (double)n, best_edges = (double)(m + n);
    for (int tm = 1; tm <= threads && tm <= um; tm++) {
        for (int tn = 1; tm * tn <= threads && tn <= un; tn++) {
            double rows = (double)gemm_min(gemm_ceil_div(um, tm) * ra, m);
            double cols = (double)gemm_min(gemm_ceil_div(un, tn) * ca, n);
            double area = rows * cols, edges = rows + cols;
            int better = area < best_area ||
                         (area == best_area && tm * tn < best.tm * best.tn) ||
                         (area == best_area && tm * tn == best.tm * best.tn && edges < best_edges);
            if (better) {
                best.tm = tm, best.tn = tn;
                best_area = area, best_edges = edges;
            }
        }
    }
    return best;
}

static gemm_region region_of(const grid *g, int part)
{
    const ptrdiff_t um = gemm_ceil_div(g->m, g->ra), un = gemm_ceil_div(g->n, g->ca);
    const int qm = part / g->tn, qn = part % g->tn;
    gemm_region r;
    r.i0 = gemm_min(qm * um / g->tm * g->ra, g->m);
    r.i1 = gemm_min((qm + 1) * um / g->tm * g->ra, g->m);
    r.j0 = gemm_min(qn * un / g->tn * g->ca, g->n);
    r.j1 = gemm_min((qn + 1) * un / g->tn * g->ca, g->n);
    return r;
}

static void *align_up(void *p)
{
    return (void *)(((uintptr_t)p + GEMM_ALIGN - 1) & ~(uintptr_t)(GEMM_ALIGN - 1));
}

static size_t round_slot(size_t bytes)
{
    return (size_t)gemm_round_up((ptrdiff_t)bytes, GEMM_ALIGN);
}

/* The whole call, given its kernels. */
static void gemm_run(const gemm_kernels *t, const gemm_operands *op, const gemm_out *o,
                     ptrdiff_t m, ptrdiff_t n, void *scratch)
{
    if (m <= 0 || n <= 0)
        return;
    if (op->k <= 0 || o->alpha == 0) {
        /* C = epilogue(beta * C): the kernels with k = 0 read neither A nor B. */
        gemm_operands none = {o->c, 0, 0, o->c, 0, 1, 0};
        gemm_region all = {0, m, 0, n};
        gemm_direct_plan plan = gemm_direct_plan_for(t, n, 0, 0);
        gemm_direct_region(t, &plan, &none, o, all, NULL);
        return;
    }

    const int direct = use_direct_path(t, op, m, n);
    int threads = fnn_get_num_threads();
    if (2.0 * (double)m * (double)n * (double)op->k < PARALLEL_MIN_FLOPS)
        threads = 1;
    const int rows = (int)gemm_min(m, t->strided_rows);
    const int pack_b = direct && direct_packs_b(t, op, m);
    const grid g = direct ? choose_grid(m, n, t->strided_rows,
                                        pack_b ? t->nr : t->strided_cols[rows], threads)
                          : choose_grid(m, n, t->mr, t->nr, threads);
    const int parts = g.tm * g.tn;

    gemm_blocking blk = {0};
    gemm_direct_plan plan = {0};
    size_t slot = 0;
    if (direct) {
        plan = gemm_direct_plan_for(t, n, op->k, pack_b);
        slot = round_slot(plan.slot_bytes);
    } else {
        blk = gemm_blocking_for(t, m, n, op->k);
        slot = round_slot(blk.slot_bytes);
    }
    void *owned = NULL;
    char *slots = NULL;
    if (slot > 0) {
        if (scratch == NULL) {
            owned = malloc(slot * (size_t)parts + GEMM_ALIGN);
            if (owned == NULL) {
                fprintf(stderr, "fastnn: out of memory for GEMM packing buffers\n");
                abort();
            }
            scratch = owned;
        }
        slots = (char *)align_up(scratch);
    }

#ifdef FASTNN_HAVE_OPENMP
    if (parts > 1) {
#pragma omp parallel num_threads(parts)
        {
            /* The team may be smaller than asked (nested parallelism, thread limits):
             * a thread then computes several parts, in its own scratch slot. */
            const int tid = omp_get_thread_num(), team = omp_get_num_threads();
            char *mine = slots ? slots + (size_t)tid * slot : NULL;
            for (int part = tid; part < parts; part += team) {
                if (direct)
                    gemm_direct_region(t, &plan, op, o, region_of(&g, part), mine);
                else
                    gemm_blocked_region(t, &blk, op, o, region_of(&g, part), mine);
            }
        }
        free(owned);
        return;
    }
#endif
    for (int part = 0; part < parts; part++) {
        if (direct)
            gemm_direct_region(t, &plan, op, o, region_of(&g, part), slots);
        else
            gemm_blocked_region(t, &blk, op, o, region_of(&g, part), slots);
    }
    free(owned);
}

static gemm_out out_of(int elsize, double alpha, double beta, void *c, ptrdiff_t ldc,
                       const fnn_epilogue *epi)
{
    gemm_out o = {0};
    o.elsize = elsize;
    o.c = c, o.ldc = ldc;
    o.alpha = alpha, o.beta = beta;
    o.mode = FNN_EPI_NONE;
    o.act = FNN_ACT_LINEAR;
    if (epi != NULL && epi->mode != FNN_EPI_NONE) {
        o.mode = epi->mode, o.act = epi->act, o.act_param = epi->act_param;
        if (epi->mode == FNN_EPI_FORWARD)
            o.bias = epi->bias, o.z = epi->z, o.ldz = epi->ldz;
        else
            o.aux = epi->aux, o.ld_aux = epi->ld_aux;
    }
    return o;
}

void fnn_sgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha, const float *a,
               ptrdiff_t rsa, ptrdiff_t csa, const float *b, ptrdiff_t rsb, ptrdiff_t csb,
               float beta, float *c, ptrdiff_t ldc, const fnn_epilogue *epi, void *scratch)
{
    const gemm_operands op = {a, rsa, csa, b, rsb, csb, k};
    const gemm_out o = out_of(4, alpha, beta, c, ldc, epi);
    gemm_run(gemm_kernels_for(fnn_simd_level(), 0), &op, &o, m, n, scratch);
}

void fnn_dgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha, const double *a,
               ptrdiff_t rsa, ptrdiff_t csa, const double *b, ptrdiff_t rsb, ptrdiff_t csb,
               double beta, double *c, ptrdiff_t ldc, const fnn_epilogue *epi, void *scratch)
{
    const gemm_operands op = {a, rsa, csa, b, rsb, csb, k};
    const gemm_out o = out_of(8, alpha, beta, c, ldc, epi);
    gemm_run(gemm_kernels_for(fnn_simd_level(), 1), &op, &o, m, n, scratch);
}

size_t fnn_gemm_scratch_bytes(int is_double, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                              int threads)
{
    if (m <= 0 || n <= 0 || k <= 0)
        return 0;
    if (threads < 1)
        threads = 1;
    /* Enough for every level this CPU can run, so that a level forced later fits too;
     * each slot is sized for the whole of C (an upper bound for any region). */
    size_t most = 0;
    for (int level = FNN_SIMD_SCALAR; level <= fnn_simd_detected(); level++) {
        const gemm_kernels *t = gemm_kernels_for(level, is_double);
        gemm_blocking blk = gemm_blocking_for(t, m, n, k);
        gemm_direct_plan plan = gemm_direct_plan_for(t, n, k, 1);
        size_t slot = round_slot(blk.slot_bytes);
        slot = round_slot(plan.slot_bytes) > slot ? round_slot(plan.slot_bytes) : slot;
        size_t bytes = slot * (size_t)threads + GEMM_ALIGN;
        most = bytes > most ? bytes : most;
    }
    return most;
}
