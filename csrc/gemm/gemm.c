/*
 * gemm.c - fnn_sgemm / fnn_dgemm: choose the path (direct or packed), cut C into tasks
 * for fastnn's thread pool, and hand each task's thread its slot of scratch.
 *
 * Tasks are rectangles of C aligned to the kernels' tiles (N and/or M, never K): every
 * element of C is computed by one kernel call, on one thread, in one fixed order. The
 * path and the K blocking depend on shapes and strides only, and a kernel gives an
 * element the same bits whatever tile it falls in, so results are bitwise identical for
 * any number of threads and whichever thread runs a task.
 *
 * The thread count is read once per call, and a caller's scratch is never trusted to
 * match it: another thread may raise the count between the caller sizing its scratch
 * and this call reading it, so the call runs on no more threads than the scratch has
 * slots for (which, as above, changes no result).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "cpu/cpu.h"
#include "gemm/gemm.h"


/* Below this much work a call runs on the calling thread alone: handing tasks to the
 * pool costs about 1 us, as much as ~0.5 MFLOP of work on one core, ... */
#define PARALLEL_MIN_FLOPS 5e5

/* ... unless it streams this much of B through few rows (a GEMV at batch 1: bound by
 * reading B, which two cores do from their own caches, each its half of the columns). */
#define PARALLEL_MIN_B_BYTES (256 << 10)

/* The direct path (gemm_direct.c) serves up to this many rows of C, ... */
#define DIRECT_MAX_ROWS 64

/* ... or any product this small (packing A costs more than it saves), ... */
#define DIRECT_MAX_FLOPS 2e5

/* ... or, when A's rows are contiguous, any product whose rows of A are at most this
 * long: a block of them (8 x 2 KiB) stays in L1 while it meets every column of B.
 * Longer rows pack: predicting 10,000 rows of 784 floats measured 11 % faster packed at
 * one thread (A arrives from memory once, where the direct path reads it strip by
 * strip), float64 256x256x784 29 % faster; with A in cache, 512-float rows still ran
 * ~3 % faster direct. */
#define DIRECT_MAX_ROW_BYTES 2048

/* B is read in place when its rows are at most this far apart: further, and every k
 * step of a strip opens a new 4 KiB page (a TLB miss per row), so B is packed. */
#define DIRECT_MAX_B_ROW_BYTES 2048

/* FASTNN_GEMM_PATH=direct or =packed (read once) sends every call down one path: for
 * tests, which then check each path at every shape, and for measurements. */
static int forced_path(void)
{
    static int forced = -1; /* racing first calls store the same value */
    int path = __atomic_load_n(&forced, __ATOMIC_RELAXED);
    if (path < 0) {
        const char *e = getenv("FASTNN_GEMM_PATH");
        path = e && (e[0] == 'd' || e[0] == 'p') ? e[0] : 0;
        __atomic_store_n(&forced, path, __ATOMIC_RELAXED);
    }
    return path;
}

/* Whether the direct path serves the call. Shapes and strides only decide it (and,
 * inside the path, whether B is packed), so every bit of C is the same for any thread
 * count. A^T (X^T dY) with long rows goes to the packed path: read in place, each k
 * step of a tile would load a different row of X, so a page per step. */
static int use_direct_path(const gemm_kernels *t, const gemm_operands *op, ptrdiff_t m,
                           ptrdiff_t n)
{
    if (forced_path())
        return forced_path() == 'd';
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

/* A grid of tm x tn regions of C, rows in units of `ra` elements, columns of `ca`. The
 * regions are the tasks of a call, numbered down each column of the grid first, so the
 * contiguous range of tasks a thread is offered first (fnn_parallel_for) is a slice of
 * N: its part of B stays in its own core's caches. */
typedef struct grid {
    int tm, tn;
    ptrdiff_t m, n, ra, ca;
} grid;

/* The packed path's grid: at most `threads` regions with the smallest largest region
 * (that is the time a call takes), then the fewest regions, then the least packing
 * (rows + cols); each region packs its own blocks of A and B. */
static grid packed_grid(ptrdiff_t m, ptrdiff_t n, ptrdiff_t ra, ptrdiff_t ca, int threads)
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

/* Tasks per thread the direct path aims at: enough that a thread which finishes early
 * (or a core another process holds) is evened out by taking the others' last tasks. */
#define TASKS_PER_THREAD 4

/* ... as long as a task keeps this much work (a few microseconds). */
#define MIN_TASK_FLOPS 5e5

/* The direct path's grid: N split among the threads first (each reads only its columns
 * of B), then M into row groups for balance. With B packed a task packs its own
 * columns, so it takes all rows (no packing twice). */
static grid direct_grid(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, ptrdiff_t ra, ptrdiff_t ca,
                        int threads, int pack_b)
{
    const ptrdiff_t um = gemm_ceil_div(m, ra), un = gemm_ceil_div(n, ca);
    const double flops = 2.0 * (double)m * (double)n * (double)k;
    grid g = {1, 1, m, n, ra, ca};
    if (threads <= 1)
        return g;
    if (pack_b) {
        g.tn = (int)gemm_min(un, TASKS_PER_THREAD * threads);
        while (g.tn > threads && flops / g.tn < MIN_TASK_FLOPS)
            g.tn--;
        return g;
    }
    g.tn = (int)gemm_min(un, threads);
    g.tm = (int)gemm_min(um, gemm_ceil_div(TASKS_PER_THREAD * threads, g.tn));
    while (g.tm > 1 && flops / (g.tm * g.tn) < MIN_TASK_FLOPS)
        g.tm--;
    return g;
}

static gemm_region region_of(const grid *g, int part)
{
    const ptrdiff_t um = gemm_ceil_div(g->m, g->ra), un = gemm_ceil_div(g->n, g->ca);
    const int qn = part / g->tm, qm = part % g->tm;
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

/* Packing buffers for calls without scratch of their own. Freshly allocated buffers of
 * this size come from mmap: page faults and zeroing on every call (~1 % of a 1024^3
 * product, more of a W1-sized one). One buffer is kept for the next call instead, taken
 * and given back by atomic exchange (calls from several threads at once each get one). */
typedef struct gemm_buffer {
    size_t bytes; /* usable bytes after this header */
    char pad[GEMM_ALIGN - sizeof(size_t)];
} gemm_buffer;

static gemm_buffer *spare_buffer;

static gemm_buffer *take_buffer(size_t bytes)
{
    gemm_buffer *b = __atomic_exchange_n(&spare_buffer, NULL, __ATOMIC_ACQUIRE);
    if (b != NULL && b->bytes >= bytes)
        return b;
    free(b);
    b = (gemm_buffer *)malloc(sizeof(gemm_buffer) + bytes);
    if (b == NULL) {
        fprintf(stderr, "fastnn: out of memory for GEMM packing buffers\n");
        abort();
    }
    b->bytes = bytes;
    return b;
}

/* Keeps the larger of b and the spare buffer. */
static void give_back_buffer(gemm_buffer *b)
{
    if (b == NULL)
        return;
    gemm_buffer *other = __atomic_exchange_n(&spare_buffer, b, __ATOMIC_ACQ_REL);
    if (other != NULL && other->bytes > b->bytes)
        other = __atomic_exchange_n(&spare_buffer, other, __ATOMIC_ACQ_REL);
    free(other);
}

/* One call as its tasks see it. */
typedef struct gemm_call {
    const gemm_kernels *t;
    const gemm_operands *op;
    const gemm_out *o;
    int direct;
    gemm_direct_plan plan;
    gemm_blocking blk;
    grid g;
    char *slots; /* one slot of `slot` bytes per thread, or NULL */
    size_t slot;
    const void *packed_b; /* the packed path's B, packed for the whole call, or NULL */
    ptrdiff_t n;
} gemm_call;

static void run_task(void *ctx, ptrdiff_t task, int worker)
{
    const gemm_call *c = (const gemm_call *)ctx;
    const gemm_region r = region_of(&c->g, (int)task);
    char *slot = c->slots ? c->slots + (size_t)worker * c->slot : NULL;
    if (c->direct)
        gemm_direct_region(c->t, &c->plan, c->op, c->o, r, slot);
    else if (c->packed_b)
        gemm_blocked_region_packed_b(c->t, &c->blk, c->op, c->o, r, slot, c->packed_b, c->n);
    else
        gemm_blocked_region(c->t, &c->blk, c->op, c->o, r, slot);
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

/* A B packed by fnn_gemm_pack_b: a header naming the kernels and shape it was packed
 * for, then the panels (gemm_pack_b_whole), GEMM_ALIGN bytes in. */
typedef struct packed_b_header {
    const gemm_kernels *t;
    ptrdiff_t n, k;
} packed_b_header;

/* The panels of packed_b when it was packed for these kernels and shape, else NULL (B is
 * then packed as usual: a level forced since, say). */
static const void *packed_b_data(const void *packed_b, const gemm_kernels *t, ptrdiff_t n,
                                 ptrdiff_t k)
{
    const packed_b_header *h = (const packed_b_header *)packed_b;
    if (h == NULL || h->t != t || h->n != n || h->k != k)
        return NULL;
    return (const char *)packed_b + GEMM_ALIGN;
}

/* The whole call, given its kernels. */
static void gemm_run(const gemm_kernels *t, const gemm_operands *op, const gemm_out *o,
                     ptrdiff_t m, ptrdiff_t n, void *scratch, size_t scratch_bytes,
                     int max_threads, const void *packed_b)
{
    if (m <= 0 || n <= 0)
        return;
    if (op->k <= 0 || o->alpha == 0) {
        /* C = epilogue(beta * C): the kernels with k = 0 read neither A nor B. */
        gemm_operands none = {o->c, 0, 0, o->c, 0, 1, 0};
        gemm_region all = {0, m, 0, n};
        gemm_direct_plan plan = gemm_direct_plan_for(t, m, n, 0, 0);
        gemm_direct_region(t, &plan, &none, o, all, NULL);
        return;
    }

    gemm_call c = {0};
    c.t = t, c.op = op, c.o = o;
    c.direct = use_direct_path(t, op, m, n);
    int threads = fnn_get_num_threads();
    if (max_threads > 0 && threads > max_threads)
        threads = max_threads;
    if (2.0 * (double)m * (double)n * (double)op->k < PARALLEL_MIN_FLOPS &&
        (m > DIRECT_MAX_ROWS || (size_t)(n * op->k * t->elsize) < PARALLEL_MIN_B_BYTES))
        threads = 1;
    if (c.direct) {
        const int pack_b = direct_packs_b(t, op, m);
        const int rows = (int)gemm_min(m, t->strided_rows);
        /* columns in units of the kernels' strips, or half strips where a kernel for
         * those exists (so that two threads can share a GEMV of 256 columns) */
        const ptrdiff_t unit = pack_b ? t->nr
                               : t->half[rows] ? t->strided_cols[rows] / 2
                                               : t->strided_cols[rows];
        c.plan = gemm_direct_plan_for(t, m, n, op->k, pack_b);
        c.slot = round_slot(c.plan.slot_bytes);
        c.g = direct_grid(m, n, op->k, t->strided_rows, unit, threads, pack_b);
    } else {
        c.blk = gemm_blocking_for(t, m, n, op->k);
        c.slot = round_slot(c.blk.slot_bytes);
        c.packed_b = packed_b_data(packed_b, t, n, op->k);
        c.n = n;
        c.g = packed_grid(m, n, t->mr, c.blk.nr, threads);
    }
    const int parts = c.g.tm * c.g.tn;
    if (parts < threads)
        threads = parts;

    gemm_buffer *owned = NULL;
    if (c.slot > 0) {
        /* at most as many threads as the caller's scratch has slots for; the tasks and
         * so the results stay the same */
        const int fit = slots_in(scratch, scratch_bytes, c.slot);
        if (fit > 0 && fit < threads)
            threads = fit;
        if (fit == 0) {
            owned = take_buffer(c.slot * (size_t)threads + GEMM_ALIGN);
            scratch = owned + 1;
        }
        c.slots = (char *)align_up(scratch);
    }
    if (parts == 1)
        run_task(&c, 0, 0);
    else
        fnn_parallel_for(parts, threads, run_task, &c);
    give_back_buffer(owned);
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
    gemm_run(fnn_cpu()->gemm_f32, &op, &o, m, n, scratch, scratch_bytes, 0, NULL);
}

void fnn_dgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha, const double *a,
               ptrdiff_t rsa, ptrdiff_t csa, const double *b, ptrdiff_t rsb, ptrdiff_t csb,
               double beta, double *c, ptrdiff_t ldc, const fnn_epilogue *epi, void *scratch,
               size_t scratch_bytes)
{
    const gemm_operands op = {a, rsa, csa, b, rsb, csb, k};
    const gemm_out o = out_of(8, alpha, beta, c, ldc, epi);
    gemm_run(fnn_cpu()->gemm_f64, &op, &o, m, n, scratch, scratch_bytes, 0, NULL);
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
        const fnn_cpu_kernels *cpu = fnn_cpu_at(level);
        const gemm_kernels *t = is_double ? cpu->gemm_f64 : cpu->gemm_f32;
        gemm_blocking blk = gemm_blocking_for(t, m, n, k);
        gemm_direct_plan packing = gemm_direct_plan_for(t, m, n, k, 1);
        gemm_direct_plan gemv = gemm_direct_plan_for(t, m, n, k, 0);
        size_t slot = round_slot(blk.slot_bytes);
        slot = round_slot(packing.slot_bytes) > slot ? round_slot(packing.slot_bytes) : slot;
        slot = round_slot(gemv.slot_bytes) > slot ? round_slot(gemv.slot_bytes) : slot;
        size_t bytes = slot * (size_t)threads + GEMM_ALIGN;
        most = bytes > most ? bytes : most;
    }
    return most;
}

/* Whether a call of m x n x k with A's column stride csa (rows contiguous when 1) and
 * B's columns contiguous takes the packed path at the kernels t. */
static int takes_packed_path(const gemm_kernels *t, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                             ptrdiff_t csa)
{
    const gemm_operands op = {NULL, 0, csa, NULL, n, 1, k};
    return m > 0 && n > 0 && k > 0 && !use_direct_path(t, &op, m, n);
}

size_t fnn_gemm_packed_b_bytes(int is_double, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                               ptrdiff_t csa)
{
    const fnn_cpu_kernels *cpu = fnn_cpu();
    if (!takes_packed_path(is_double ? cpu->gemm_f64 : cpu->gemm_f32, m, n, k, csa))
        return 0;
    size_t most = 0; /* enough at every level, as fnn_gemm_scratch_bytes */
    for (int level = FNN_SIMD_SCALAR; level <= fnn_simd_detected(); level++) {
        const fnn_cpu_kernels *at = fnn_cpu_at(level);
        size_t bytes = gemm_pack_b_whole_bytes(is_double ? at->gemm_f64 : at->gemm_f32, n, k);
        most = bytes > most ? bytes : most;
    }
    return GEMM_ALIGN + round_slot(most);
}

int fnn_gemm_pack_b(int is_double, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, ptrdiff_t csa,
                    const void *b, ptrdiff_t rsb, ptrdiff_t csb, void *dst, size_t bytes)
{
    const fnn_cpu_kernels *cpu = fnn_cpu();
    const gemm_kernels *t = is_double ? cpu->gemm_f64 : cpu->gemm_f32;
    if (dst == NULL || !takes_packed_path(t, m, n, k, csa) ||
        bytes < GEMM_ALIGN + gemm_pack_b_whole_bytes(t, n, k))
        return 0;
    packed_b_header *h = (packed_b_header *)dst;
    h->t = t, h->n = n, h->k = k;
    gemm_pack_b_whole(t, n, k, b, rsb, csb, (char *)dst + GEMM_ALIGN);
    return 1;
}

void fnn_sgemm_packed_b(int threads, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                        const float *a, ptrdiff_t rsa, ptrdiff_t csa, const float *b,
                        ptrdiff_t rsb, ptrdiff_t csb, const void *packed_b, float beta,
                        float *c, ptrdiff_t ldc, const fnn_epilogue *epi, void *scratch,
                        size_t scratch_bytes)
{
    const gemm_operands op = {a, rsa, csa, b, rsb, csb, k};
    const gemm_out o = out_of(4, alpha, beta, c, ldc, epi);
    gemm_run(fnn_cpu()->gemm_f32, &op, &o, m, n, scratch, scratch_bytes, threads, packed_b);
}

void fnn_dgemm_packed_b(int threads, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                        const double *a, ptrdiff_t rsa, ptrdiff_t csa, const double *b,
                        ptrdiff_t rsb, ptrdiff_t csb, const void *packed_b, double beta,
                        double *c, ptrdiff_t ldc, const fnn_epilogue *epi, void *scratch,
                        size_t scratch_bytes)
{
    const gemm_operands op = {a, rsa, csa, b, rsb, csb, k};
    const gemm_out o = out_of(8, alpha, beta, c, ldc, epi);
    gemm_run(fnn_cpu()->gemm_f64, &op, &o, m, n, scratch, scratch_bytes, threads, packed_b);
}
