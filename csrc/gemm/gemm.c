/*
 * gemm.c - fnn_sgemm / fnn_dgemm: choose the path (no packing or packed), split C
 * among threads, and hand each thread its region and its slot of scratch.
 *
 * Threads split C into a grid of rectangles aligned to the kernels' tiles (N and/or
 * M, never K): every element of C is computed by one thread in one fixed order, and
 * since neither the path, the K blocking nor the tile grid depends on the thread
 * count, results are bitwise identical for any number of threads.
 *
 * The thread count is read once per call, and a caller's scratch is never trusted to
 * match it: another thread may raise the count between the caller sizing its scratch
 * and this call reading it, so the call runs on no more threads than the scratch has
 * slots for (which, as above, changes no result).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "gemm.h"

#ifdef FASTNN_HAVE_OPENMP
#include <omp.h>
#endif

/* Below this much work a call runs on the calling thread alone: waking a team costs
 * about 1 us, as much as ~0.5 MFLOP of work on one core. */
#define PARALLEL_MIN_FLOPS 5e5

/* The no-packing path serves up to this many rows of C, ... */
#define SMALL_MAX_ROWS 64

/* ... or any product this small (packing costs more than it saves), ... */
#define SMALL_MAX_FLOPS 2e5

/* ... or C no wider than one packed tile: a packed A block would be used only once.
 * It needs B with unit column stride (X W, X^T dY); other layouts are packed. */
static int use_small_path(const gemm_kernels *t, const gemm_operands *op, ptrdiff_t m,
                          ptrdiff_t n)
{
    if (op->csb != 1)
        return 0;
    return m <= SMALL_MAX_ROWS || n <= t->nr ||
           2.0 * (double)m * (double)n * (double)op->k <= SMALL_MAX_FLOPS;
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

static size_t slot_bytes(const gemm_blocking *blk)
{
    return (size_t)gemm_round_up((ptrdiff_t)blk->slot_bytes, GEMM_ALIGN);
}

/* How many slots of `slot` bytes fit in the caller's scratch once aligned (0: none). */
static int slots_in(void *scratch, size_t bytes, size_t slot)
{
    if (scratch == NULL || slot == 0)
        return 0;
    const size_t skipped = (size_t)((char *)align_up(scratch) - (char *)scratch);
    if (bytes <= skipped)
        return 0;
    const size_t count = (bytes - skipped) / slot;
    return count > (size_t)INT_MAX ? INT_MAX : (int)count;
}

/* The whole call, given its kernels. */
static void gemm_run(const gemm_kernels *t, const gemm_operands *op, const gemm_out *o,
                     ptrdiff_t m, ptrdiff_t n, void *scratch, size_t scratch_bytes)
{
    if (m <= 0 || n <= 0)
        return;
    if (op->k <= 0 || o->alpha == 0) {
        /* C = epilogue(beta * C): the kernels with k = 0 read neither A nor B. */
        gemm_operands none = {o->c, 0, 0, o->c, 0, 1, 0};
        gemm_region all = {0, m, 0, n};
        gemm_small_region(t, &none, o, all);
        return;
    }

    const int small = use_small_path(t, op, m, n);
    int threads = fnn_get_num_threads();
    if (2.0 * (double)m * (double)n * (double)op->k < PARALLEL_MIN_FLOPS)
        threads = 1;

    gemm_blocking blk = {0};
    int fit = 0; /* slots the caller's scratch holds: at most that many threads */
    if (!small) {
        blk = gemm_blocking_for(t, m, n, op->k);
        fit = slots_in(scratch, scratch_bytes, slot_bytes(&blk));
        if (fit > 0 && fit < threads)
            threads = fit;
    }
    const int rows = (int)gemm_min(m, t->strided_rows);
    const grid g = small ? choose_grid(m, n, t->strided_rows, t->strided_cols[rows], threads)
                         : choose_grid(m, n, t->mr, t->nr, threads);
    const int parts = g.tm * g.tn;

    void *owned = NULL;
    char *slots = NULL;
    if (!small) {
        if (fit == 0) {
            owned = malloc(slot_bytes(&blk) * (size_t)parts + GEMM_ALIGN);
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
            char *slot = slots ? slots + (size_t)tid * slot_bytes(&blk) : NULL;
            for (int part = tid; part < parts; part += team) {
                if (small)
                    gemm_small_region(t, op, o, region_of(&g, part));
                else
                    gemm_blocked_region(t, &blk, op, o, region_of(&g, part), slot);
            }
        }
        free(owned);
        return;
    }
#endif
    for (int part = 0; part < parts; part++) {
        if (small)
            gemm_small_region(t, op, o, region_of(&g, part));
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
               float beta, float *c, ptrdiff_t ldc, const fnn_epilogue *epi, void *scratch,
               size_t scratch_bytes)
{
    const gemm_operands op = {a, rsa, csa, b, rsb, csb, k};
    const gemm_out o = out_of(4, alpha, beta, c, ldc, epi);
    gemm_run(gemm_kernels_for(fnn_simd_level(), 0), &op, &o, m, n, scratch, scratch_bytes);
}

void fnn_dgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha, const double *a,
               ptrdiff_t rsa, ptrdiff_t csa, const double *b, ptrdiff_t rsb, ptrdiff_t csb,
               double beta, double *c, ptrdiff_t ldc, const fnn_epilogue *epi, void *scratch,
               size_t scratch_bytes)
{
    const gemm_operands op = {a, rsa, csa, b, rsb, csb, k};
    const gemm_out o = out_of(8, alpha, beta, c, ldc, epi);
    gemm_run(gemm_kernels_for(fnn_simd_level(), 1), &op, &o, m, n, scratch, scratch_bytes);
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
        gemm_blocking blk = gemm_blocking_for(gemm_kernels_for(level, is_double), m, n, k);
        size_t bytes = slot_bytes(&blk) * (size_t)threads + GEMM_ALIGN;
        most = bytes > most ? bytes : most;
    }
    return most;
}
