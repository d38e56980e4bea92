/*
 * gemm_bf16.c - fnn_sgemm_bf16: the two ways a product runs, by the bf16 level in use.
 *
 * Portable level (any CPU): A and B are rounded to bf16 into float copies and the float
 * GEMM of the current SIMD level multiplies those. A product of two bf16 values is exact
 * in float, so this is exactly "float FMA on bf16 inputs", with every path, kernel and
 * thread split of fnn_sgemm. The copies cost one pass over A and B (m k + k n elements
 * against 2 m n k flops).
 *
 * ISA levels (AVX512-BF16, AMX): the packed path of BLIS (gemm_blocked.c) with bf16
 * panels, packed and rounded from the float operands by the level's pack:
 *
 *   for jc in N by NC:                      per thread: its region's columns
 *     for pc in K by KC (equal blocks, padded to the kernel's k unit):
 *       pack B[pc.., jc..] into NR-column pair-interleaved panels
 *       for ic in M by MC:
 *         pack A[ic.., pc..] into MR-row panels
 *         for each MR x NR block: the table's kernel (vdpbf16ps or tdpbf16ps)
 *
 * The first K block writes C with the caller's beta, later ones add to it, the last
 * applies the epilogue, as in the float path. Threads take rectangles of C aligned to
 * MR x NR (never K), so every element is computed by one kernel, in one order: results
 * are bitwise the same for any thread count.
 *
 * The level in use (fnn_bf16_level) and its table come from runtime.c (cpu/cpu.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cpu/cpu.h"
#include "gemm/bf16.h"

/* A 16 x 16 tile with one row used does 1/16 of its work, a 32-k step of K = 10 a third:
 * such products take the AVX512-BF16 kernels (which every AMX CPU has). */
const gemm_bf16_kernels *gemm_bf16_kernels_for(int level, ptrdiff_t m, ptrdiff_t k)
{
    if (level >= FNN_BF16_AMX && (m < 16 || k < 32))
        level = FNN_BF16_AVX512_BF16;
    return level > FNN_BF16_PORTABLE ? fnn_bf16_at(level) : NULL;
}

/* ----------------------------------------------------------------------- helpers */

static size_t round64(size_t bytes)
{
    return (bytes + GEMM_ALIGN - 1) & ~(size_t)(GEMM_ALIGN - 1);
}

static char *align_up(void *p)
{
    return (char *)(((uintptr_t)p + GEMM_ALIGN - 1) & ~(uintptr_t)(GEMM_ALIGN - 1));
}

/* Usable bytes of the caller's scratch once aligned (0: none). */
static size_t usable(void *scratch, size_t bytes)
{
    if (scratch == NULL)
        return 0;
    const size_t skipped = (size_t)(align_up(scratch) - (char *)scratch);
    return bytes > skipped ? bytes - skipped : 0;
}

static void *allocate(size_t bytes)
{
    void *p = malloc(bytes + GEMM_ALIGN);
    if (p == NULL) {
        fprintf(stderr, "fastnn: out of memory for a bf16 GEMM's buffers\n");
        abort();
    }
    return p;
}

/* Below this much work a call runs on the calling thread alone: twice gemm.c's float
 * threshold, because the pool's ~1 us hand-off is worth about twice the flops at the
 * bf16 instructions' rate (an estimate: not yet timed on a CPU that has them). */
#define PARALLEL_MIN_FLOPS 1e6

static int threads_for(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k)
{
    if (2.0 * (double)m * (double)n * (double)k < PARALLEL_MIN_FLOPS)
        return 1;
    return fnn_get_num_threads();
}

/* ----------------------------------------------------------------------- portable */

/* A rows x cols operand (element (r, c) at src[r*rs + c*cs]) rounded to bf16 into dst,
 * dense, with strides *drs, *dcs: column-major when its columns are contiguous (so that
 * the float GEMM meets the layout it would have met), else row-major. Seen as `lines`
 * runs of `length` elements, one after the other in dst; large copies are cut into
 * element ranges for the pool (elementwise: any cut gives the same values). */
typedef struct round_job {
    ptrdiff_t length;                /* elements per run */
    const float *src;
    ptrdiff_t src_line, src_step;    /* a run's start and element step in src */
    float *dst;
    ptrdiff_t elements, tasks;
} round_job;

static void round_range(void *ctx, ptrdiff_t task, int worker)
{
    (void)worker;
    const round_job *j = (const round_job *)ctx;
    ptrdiff_t e = task * j->elements / j->tasks;
    const ptrdiff_t end = (task + 1) * j->elements / j->tasks;
    while (e < end) {
        const ptrdiff_t line = e / j->length, at = e % j->length;
        const ptrdiff_t count = gemm_min(j->length - at, end - e);
        const float *s = j->src + line * j->src_line + at * j->src_step;
        if (j->src_step == 1) {
            fnn_round_bf16_f32(count, s, j->dst + e);
        } else {
            for (ptrdiff_t q = 0; q < count; q++)
                j->dst[e + q] = bf16_to_f32(bf16_from_f32(s[q * j->src_step]));
        }
        e += count;
    }
}

/* At least this many elements per task (about 6 us of rounding against the pool's
 * ~1 us hand-off), and tasks in multiples of the thread count, so that both operands'
 * copies are shared evenly from a 128 x 256 activation matrix up. */
#define ROUND_TASK_ELEMENTS (1 << 14)

static void round_copy(ptrdiff_t rows, ptrdiff_t cols, const float *src, ptrdiff_t rs,
                       ptrdiff_t cs, float *dst, ptrdiff_t *drs, ptrdiff_t *dcs)
{
    round_job j;
    j.src = src, j.dst = dst, j.elements = rows * cols;
    if (rs == 1 && cs != 1) { /* columns contiguous: column-major */
        j.length = rows, j.src_line = cs, j.src_step = 1;
        *drs = 1, *dcs = rows;
    } else { /* rows contiguous, or any strides: row-major */
        j.length = cols, j.src_line = rs, j.src_step = cs;
        *drs = cols, *dcs = 1;
    }
    if (j.src_step == 1 && j.src_line == j.length) /* dense already: one run */
        j.length = j.elements, j.src_line = 0;
    const int threads = fnn_get_num_threads();
    j.tasks = gemm_min(j.elements / ROUND_TASK_ELEMENTS, 4 * (ptrdiff_t)threads);
    j.tasks = j.tasks >= threads ? j.tasks - j.tasks % threads : 1;
    if (j.tasks == 1 || threads <= 1)
        for (ptrdiff_t t = 0; t < j.tasks; t++)
            round_range(&j, t, 0);
    else
        fnn_parallel_for(j.tasks, threads, round_range, &j);
}

static size_t portable_copy_bytes(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k)
{
    return round64((size_t)(m * k) * sizeof(float)) + round64((size_t)(k * n) * sizeof(float));
}

static void portable_run(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha, const float *a,
                         ptrdiff_t rsa, ptrdiff_t csa, const float *b, ptrdiff_t rsb,
                         ptrdiff_t csb, float beta, float *c, ptrdiff_t ldc,
                         const fnn_epilogue *epi, void *scratch, size_t scratch_bytes)
{
    const size_t copies = portable_copy_bytes(m, n, k);
    const size_t have = usable(scratch, scratch_bytes);
    void *owned = NULL;
    char *base, *rest = NULL;
    size_t rest_bytes = 0;
    if (have >= copies) {
        base = align_up(scratch);
        rest = base + copies, rest_bytes = have - copies; /* the float GEMM's scratch */
    } else {
        owned = allocate(copies);
        base = align_up(owned);
    }
    float *ar = (float *)base;
    float *br = (float *)(base + round64((size_t)(m * k) * sizeof(float)));
    ptrdiff_t ra, ca, rb, cb;
    round_copy(m, k, a, rsa, csa, ar, &ra, &ca);
    round_copy(k, n, b, rsb, csb, br, &rb, &cb);
    fnn_sgemm(m, n, k, alpha, ar, ra, ca, br, rb, cb, beta, c, ldc, epi, rest_bytes ? rest : NULL,
              rest_bytes);
    free(owned);
}

/* ----------------------------------------------------------------------- ISA levels */

/* Geometry of a call's packed path, shared by the driver and the scratch query. */
typedef struct bf16_plan {
    ptrdiff_t kc;                   /* K block: K split into equal blocks of <= KC */
    ptrdiff_t mc, nc;               /* M and N blocks */
    ptrdiff_t a_pstride, b_pstride; /* bf16 elements between panels */
    size_t a_bytes, slot_bytes;     /* one thread's buffers: A block, then B block */
} bf16_plan;

static bf16_plan plan_for(const gemm_bf16_kernels *t, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k)
{
    bf16_plan p;
    const ptrdiff_t blocks = gemm_ceil_div(gemm_max(k, 1), t->kc);
    p.kc = gemm_min(gemm_round_up(gemm_ceil_div(gemm_max(k, 1), blocks), t->k_unit), t->kc);
    p.mc = gemm_min(t->mc, gemm_round_up(m, t->mr));
    p.nc = gemm_min(t->nc, gemm_round_up(n, t->nr));
    p.a_pstride = gemm_panel_stride(t->mr * p.kc, 2);
    p.b_pstride = gemm_panel_stride(t->nr * p.kc, 2);
    p.a_bytes = round64((size_t)(p.mc / t->mr * p.a_pstride) * 2);
    p.slot_bytes = p.a_bytes + round64((size_t)(gemm_ceil_div(p.nc, t->nr) * p.b_pstride) * 2);
    return p;
}

static void blocked_region(const gemm_bf16_kernels *t, const bf16_plan *p,
                           const gemm_operands *op, const gemm_out *o, gemm_region r,
                           char *slot)
{
    uint16_t *apack = (uint16_t *)slot, *bpack = (uint16_t *)(slot + p->a_bytes);
    const float *a = (const float *)op->a, *b = (const float *)op->b;
    const ptrdiff_t k = op->k;
    gemm_out first = *o, middle = *o, last = *o;
    first.mode = middle.mode = FNN_EPI_NONE;
    middle.beta = last.beta = 1;

    if (t->begin)
        t->begin();
    for (ptrdiff_t jc = r.j0; jc < r.j1; jc += p->nc) {
        const ptrdiff_t nc = gemm_min(p->nc, r.j1 - jc);
        for (ptrdiff_t pc = 0; pc < k; pc += p->kc) {
            const ptrdiff_t kc = gemm_min(p->kc, k - pc);
            const ptrdiff_t kp = gemm_round_up(kc, t->k_unit);
            const gemm_out *out = pc + kc >= k ? (pc == 0 ? o : &last)
                                               : (pc == 0 ? &first : &middle);
            t->pack(nc, kc, kp, b + pc * op->rsb + jc * op->csb, op->csb, op->rsb, t->nr, 2,
                    bpack, p->b_pstride);
            for (ptrdiff_t ic = r.i0; ic < r.i1; ic += p->mc) {
                const ptrdiff_t mc = gemm_min(p->mc, r.i1 - ic);
                t->pack(mc, kc, kp, a + ic * op->rsa + pc * op->csa, op->rsa, op->csa, t->mr,
                        t->a_group, apack, p->a_pstride);
                const uint16_t *ap = apack;
                for (ptrdiff_t ir = 0; ir < mc; ir += t->mr, ap += p->a_pstride) {
                    const int rows = (int)gemm_min(t->mr, mc - ir);
                    const uint16_t *bp = bpack;
                    for (ptrdiff_t jr = 0; jr < nc; jr += t->nr, bp += p->b_pstride) {
                        const int cols = (int)gemm_min(t->nr, nc - jr);
                        t->kernel(kp, ap, bp, rows, cols, out, ic + ir, jc + jr);
                    }
                }
            }
        }
    }
    if (t->end)
        t->end();
}

/* The threads' rectangles: a tm x tn grid over C in units of mr rows and nr columns. Of
 * the grids with at most `threads` regions, the one with the smallest largest region
 * (the time a call takes), then the fewest regions, then the least packing (each region
 * packs its rows of A and columns of B). */
typedef struct bf16_grid {
    int tm, tn;
    ptrdiff_t m, n, mr, nr;
} bf16_grid;

static bf16_grid grid_for(const gemm_bf16_kernels *t, ptrdiff_t m, ptrdiff_t n, int threads)
{
    const ptrdiff_t um = gemm_ceil_div(m, t->mr), un = gemm_ceil_div(n, t->nr);
    bf16_grid g = {1, 1, m, n, t->mr, t->nr};
    double best_area = (double)m * (double)n, best_edges = (double)(m + n);
    for (int tm = 1; tm <= threads && tm <= um; tm++) {
        for (int tn = 1; tm * tn <= threads && tn <= un; tn++) {
            const double rows = (double)gemm_min(gemm_ceil_div(um, tm) * t->mr, m);
            const double cols = (double)gemm_min(gemm_ceil_div(un, tn) * t->nr, n);
            const double area = rows * cols, edges = rows + cols;
            const int regions = tm * tn, best = g.tm * g.tn;
            if (area < best_area || (area == best_area && regions < best) ||
                (area == best_area && regions == best && edges < best_edges)) {
                g.tm = tm, g.tn = tn;
                best_area = area, best_edges = edges;
            }
        }
    }
    return g;
}

static gemm_region region_of(const bf16_grid *g, int part)
{
    const ptrdiff_t um = gemm_ceil_div(g->m, g->mr), un = gemm_ceil_div(g->n, g->nr);
    const int qn = part / g->tm, qm = part % g->tm;
    gemm_region r;
    r.i0 = gemm_min(qm * um / g->tm * g->mr, g->m);
    r.i1 = gemm_min((qm + 1) * um / g->tm * g->mr, g->m);
    r.j0 = gemm_min(qn * un / g->tn * g->nr, g->n);
    r.j1 = gemm_min((qn + 1) * un / g->tn * g->nr, g->n);
    return r;
}

typedef struct bf16_call {
    const gemm_bf16_kernels *t;
    const bf16_plan *plan;
    const gemm_operands *op;
    const gemm_out *o;
    bf16_grid g;
    char *slots;
    size_t slot;
} bf16_call;

static void run_task(void *ctx, ptrdiff_t task, int worker)
{
    const bf16_call *c = (const bf16_call *)ctx;
    blocked_region(c->t, c->plan, c->op, c->o, region_of(&c->g, (int)task),
                   c->slots + (size_t)worker * c->slot);
}

void gemm_bf16_run(const gemm_bf16_kernels *t, const gemm_operands *op, const gemm_out *o,
                   ptrdiff_t m, ptrdiff_t n, void *scratch, size_t scratch_bytes)
{
    const bf16_plan plan = plan_for(t, m, n, op->k);
    int threads = threads_for(m, n, op->k);
    bf16_call c = {t, &plan, op, o, grid_for(t, m, n, threads), NULL, plan.slot_bytes};
    const int parts = c.g.tm * c.g.tn;
    threads = parts < threads ? parts : threads;
    /* at most as many threads as the caller's scratch has slots for (same tasks, so the
     * same results) */
    const size_t fit = usable(scratch, scratch_bytes) / c.slot;
    void *owned = NULL;
    if (fit >= 1) {
        threads = fit < (size_t)threads ? (int)fit : threads;
        c.slots = align_up(scratch);
    } else {
        owned = allocate(c.slot * (size_t)threads);
        c.slots = align_up(owned);
    }
    if (parts == 1)
        run_task(&c, 0, 0);
    else
        fnn_parallel_for(parts, threads, run_task, &c);
    free(owned);
}

/* ----------------------------------------------------------------------- the API */

/* The epilogue as the kernels see it (gemm.h's gemm_out), from fnn_sgemm's arguments. */
static gemm_out out_of(float alpha, float beta, float *c, ptrdiff_t ldc, const fnn_epilogue *epi)
{
    gemm_out o = {0};
    o.elsize = 4;
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

void fnn_sgemm_bf16(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha, const float *a,
                    ptrdiff_t rsa, ptrdiff_t csa, const float *b, ptrdiff_t rsb, ptrdiff_t csb,
                    float beta, float *c, ptrdiff_t ldc, const fnn_epilogue *epi,
                    void *scratch, size_t scratch_bytes)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0 || alpha == 0) { /* A and B are not read: nothing to round */
        fnn_sgemm(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc, epi, scratch,
                  scratch_bytes);
        return;
    }
    const gemm_bf16_kernels *t = gemm_bf16_kernels_for(fnn_bf16_level(), m, k);
    if (t == NULL) {
        portable_run(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc, epi, scratch,
                     scratch_bytes);
        return;
    }
    const gemm_operands op = {a, rsa, csa, b, rsb, csb, k};
    const gemm_out o = out_of(alpha, beta, c, ldc, epi);
    gemm_bf16_run(t, &op, &o, m, n, scratch, scratch_bytes);
}

size_t fnn_gemm_bf16_scratch_bytes(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, int threads)
{
    if (m <= 0 || n <= 0 || k <= 0)
        return 0;
    threads = threads < 1 ? 1 : threads;
    /* enough for every level this CPU can run, so that a level forced later fits too */
    size_t most = GEMM_ALIGN + portable_copy_bytes(m, n, k) +
                  fnn_gemm_scratch_bytes(0, m, n, k, threads);
    for (int level = FNN_BF16_AVX512_BF16; level <= fnn_bf16_detected(); level++) {
        const gemm_bf16_kernels *t = gemm_bf16_kernels_for(level, m, k);
        if (t == NULL)
            continue;
        const size_t bytes = GEMM_ALIGN + plan_for(t, m, n, k).slot_bytes * (size_t)threads;
        most = bytes > most ? bytes : most;
    }
    return most;
}
