/*
 * test_gemm.c - the GEMM and runtime layer tested from C alone (no Python).
 *
 * Build and run (csrc/tests/Makefile gives each CPU level's file, csrc/cpu/<level>.c, its
 * flags from csrc/cpu/levels.mk):
 *     make -C csrc/tests && csrc/tests/bin/test_gemm
 * tests/test_c_library.py builds it with -Werror and runs it as part of pytest.
 *
 * Every CPU level compiled in, whether this CPU can run it or not, has a complete
 * kernel table (cpu/cpu.h); the names of the tables are printed for test_c_library.py
 * to compare with levels.mk.
 *
 * Every SIMD level the CPU has, both element types, shapes from 1 to past the cache
 * blocks, operands row-major, transposed, with negative and non-unit strides, alpha
 * and beta, each epilogue (LINEAR/RELU), caller or library scratch; compared with a
 * double-precision reference. With OpenMP, 1 and 2 threads must agree bit for bit.
 * fnn_parallel_for: every task runs once on a thread of the call, nested and concurrent
 * calls, the caller's floating-point control state in every task.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "fastnn.h"
#include "gemm/gemm.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#endif

static int failures = 0, cases = 0;
static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static double uniform(void) /* in [-1, 1) */
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 4503599627370496.0 - 1.0;
}

/* ----------------------------------------------------------- typed element access */

static double get(const void *p, int dbl, ptrdiff_t i)
{
    return dbl ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

static void set(void *p, int dbl, ptrdiff_t i, double v)
{
    if (dbl)
        ((double *)p)[i] = v;
    else
        ((float *)p)[i] = (float)v;
}

/* ----------------------------------------------------------- operand layouts */

enum layout { ROW, COL, NEG_ROWS, STRIDED, N_LAYOUTS };
static const char *const layout_names[] = {"row", "col", "neg", "strided"};

static ptrdiff_t gemm_max0(ptrdiff_t x) { return x > 0 ? x : 0; }

/* A rows x cols matrix in a fresh buffer: its element (r, c) at base[r*rs + c*cs]. */
typedef struct matrix {
    void *buf, *base;
    ptrdiff_t rs, cs;
} matrix;

static matrix make_matrix(ptrdiff_t rows, ptrdiff_t cols, enum layout lay, int dbl)
{
    matrix x;
    ptrdiff_t es = dbl ? 8 : 4, count, offset = 0;
    switch (lay) {
    case ROW: x.rs = cols + 3, x.cs = 1; break;
    case COL: x.rs = 1, x.cs = rows + 1; break;
    case NEG_ROWS: x.rs = -(cols + 2), x.cs = 1, offset = gemm_max0(rows - 1) * (cols + 2); break;
    default: x.rs = 2 * cols + 1, x.cs = 2; break;
    }
    count = (rows + 1) * (cols + 3) * 2 + 8;
    x.buf = malloc((size_t)(count * es));
    for (ptrdiff_t i = 0; i < count; i++)
        set(x.buf, dbl, i, uniform());
    x.base = (char *)x.buf + offset * es;
    return x;
}

/* ----------------------------------------------------------- one case */

typedef struct gemm_case {
    int dbl;
    ptrdiff_t m, n, k;
    enum layout la, lb;
    double alpha, beta;
    int mode, act;
    int use_scratch;
} gemm_case;

static void call_gemm(const gemm_case *t, const matrix *a, const matrix *b, void *c,
                      ptrdiff_t ldc, const fnn_epilogue *epi, void *scratch, size_t bytes)
{
    if (t->dbl)
        fnn_dgemm(t->m, t->n, t->k, t->alpha, a->base, a->rs, a->cs, b->base, b->rs, b->cs,
                  t->beta, c, ldc, epi, scratch, bytes);
    else
        fnn_sgemm(t->m, t->n, t->k, (float)t->alpha, a->base, a->rs, a->cs, b->base, b->rs,
                  b->cs, (float)t->beta, c, ldc, epi, scratch, bytes);
}

static void fail(const gemm_case *t, const char *what, ptrdiff_t i, ptrdiff_t j, double got,
                 double want)
{
    if (failures++ < 20)
        fprintf(stderr,
                "FAIL level %d %s m=%td n=%td k=%td A=%s B=%s alpha=%g beta=%g mode=%d "
                "act=%d scratch=%d: %s at (%td, %td): got %.17g want %.17g\n",
                fnn_simd_level(), t->dbl ? "f64" : "f32", t->m, t->n, t->k,
                layout_names[t->la], layout_names[t->lb], t->alpha, t->beta, t->mode, t->act,
                t->use_scratch, what, i, j, got, want);
}

static void run_case(const gemm_case *t)
{
    const int dbl = t->dbl;
    const ptrdiff_t m = t->m, n = t->n, k = t->k, es = dbl ? 8 : 4;
    const ptrdiff_t ldc = n + 5;
    const double tol = dbl ? 1e-12 : 2e-5;
    matrix a = make_matrix(m, k, t->la, dbl), b = make_matrix(k, n, t->lb, dbl);
    void *c0 = malloc((size_t)((m * ldc + 1) * es)), *c = malloc((size_t)((m * ldc + 1) * es));
    void *c2 = malloc((size_t)((m * ldc + 1) * es)), *z = malloc((size_t)((m * n + 1) * es));
    void *bias = malloc((size_t)((n + 1) * es)), *aux = malloc((size_t)((m * n + 1) * es));
    for (ptrdiff_t i = 0; i < m * ldc; i++) /* beta == 0 must not read C: NaN there */
        set(c0, dbl, i, t->beta == 0 && i % ldc < n ? NAN : uniform());
    for (ptrdiff_t j = 0; j < n; j++)
        set(bias, dbl, j, uniform());
    for (ptrdiff_t i = 0; i < m * n; i++)
        set(aux, dbl, i, uniform() < 0 ? 0.0 : uniform() + 1.0); /* half exactly 0 */

    fnn_epilogue epi = {t->mode, t->act, 0.0, NULL, NULL, 0, NULL, 0};
    if (t->mode == FNN_EPI_FORWARD)
        epi.bias = bias, epi.z = z, epi.ldz = n;
    if (t->mode == FNN_EPI_ACT_GRAD)
        epi.aux = aux, epi.ld_aux = n;
    size_t bytes = fnn_gemm_scratch_bytes(dbl, m, n, k, fnn_get_num_threads());
    void *scratch = t->use_scratch && bytes ? malloc(bytes) : NULL;

    memcpy(c, c0, (size_t)(m * ldc * es));
    call_gemm(t, &a, &b, c, ldc, &epi, scratch, bytes);

    for (ptrdiff_t i = 0; i < m; i++) {
        for (ptrdiff_t j = 0; j < ldc; j++) {
            double got = get(c, dbl, i * ldc + j);
            if (j >= n) { /* beyond the row: untouched */
                if (got != get(c0, dbl, i * ldc + j))
                    fail(t, "write past n", i, j, got, get(c0, dbl, i * ldc + j));
                continue;
            }
            double sum = 0, mag = 0;
            for (ptrdiff_t p = 0; p < k; p++) {
                double x = get(a.base, dbl, i * a.rs + p * a.cs);
                double y = get(b.base, dbl, p * b.rs + j * b.cs);
                sum += x * y, mag += fabs(x * y);
            }
            double c_in = t->beta == 0 ? 0.0 : get(c0, dbl, i * ldc + j);
            double want = t->alpha * sum + t->beta * c_in;
            double scale = fabs(t->alpha) * mag + fabs(t->beta * c_in) + 1.0;
            if (t->mode == FNN_EPI_FORWARD) {
                want += get(bias, dbl, j);
                double zv = get(z, dbl, i * n + j);
                if (!(fabs(zv - want) <= tol * scale))
                    fail(t, "z", i, j, zv, want);
                if (t->act == FNN_ACT_RELU)
                    want = want < 0 ? 0 : want;
            } else if (t->mode == FNN_EPI_ACT_GRAD && t->act == FNN_ACT_RELU) {
                want = get(aux, dbl, i * n + j) > 0 ? want : 0;
            }
            if (!(fabs(got - want) <= tol * scale))
                fail(t, "C", i, j, got, want);
        }
    }

    /* Bitwise the same with another thread count. */
    if (fnn_openmp_enabled()) {
        int threads = fnn_get_num_threads();
        fnn_set_num_threads(threads == 1 ? 2 : 1);
        memcpy(c2, c0, (size_t)(m * ldc * es));
        call_gemm(t, &a, &b, c2, ldc, &epi, NULL, 0);
        fnn_set_num_threads(threads);
        if (memcmp(c, c2, (size_t)(m * ldc * es)) != 0)
            fail(t, "bitwise across thread counts", 0, 0, 0, 0);
    }
    cases++;
    free(a.buf), free(b.buf), free(c0), free(c), free(c2), free(z), free(bias), free(aux);
    free(scratch);
}

/* ----------------------------------------------------------- the sweep */

static void sweep(int dbl)
{
    static const ptrdiff_t sizes[] = {1, 2, 3, 7, 8, 9, 16, 17, 31, 33, 65, 130};
    static const int modes[][2] = {{FNN_EPI_NONE, FNN_ACT_LINEAR},
                                   {FNN_EPI_FORWARD, FNN_ACT_LINEAR},
                                   {FNN_EPI_FORWARD, FNN_ACT_RELU},
                                   {FNN_EPI_ACT_GRAD, FNN_ACT_RELU}};
    const int ns = (int)(sizeof sizes / sizeof sizes[0]);
    int counter = 0;
    for (int im = 0; im < ns; im++) {
        for (int in = 0; in < ns; in++) {
            /* every (m, n) with a k, layout pair and epilogue that rotate */
            gemm_case t = {0};
            t.dbl = dbl;
            t.m = sizes[im], t.n = sizes[in], t.k = sizes[(im * 5 + in * 3) % ns];
            t.la = (enum layout)(counter % N_LAYOUTS);
            t.lb = (enum layout)(counter / N_LAYOUTS % N_LAYOUTS);
            t.mode = modes[counter % 4][0], t.act = modes[counter % 4][1];
            t.alpha = counter % 3 == 0 ? 1.0 : -0.75;
            t.beta = counter % 5 < 2 ? 0.0 : (counter % 5 == 2 ? 1.0 : 0.5);
            t.use_scratch = counter % 2;
            run_case(&t);
            counter++;
        }
    }
    /* Past the cache blocks (several K blocks: K > KC 1024, M and N blocks) and the MLP shapes. */
    static const ptrdiff_t big[][3] = {
        {128, 256, 784}, {1, 256, 784}, {784, 256, 128}, {128, 784, 256}, {128, 10, 128},
        {150, 129, 1000}, {100, 200, 2100}, {64, 2100, 40}, {5, 3, 1500},
        {0, 5, 5}, {5, 0, 5}, {6, 5, 0}};
    for (int s = 0; s < (int)(sizeof big / sizeof big[0]); s++) {
        for (int l = 0; l < 3; l++) {
            gemm_case t = {0};
            t.dbl = dbl;
            t.m = big[s][0], t.n = big[s][1], t.k = big[s][2];
            t.la = l == 2 ? COL : ROW;
            t.lb = l == 1 ? COL : ROW;
            t.mode = FNN_EPI_FORWARD, t.act = FNN_ACT_RELU;
            t.alpha = 1.0, t.beta = l == 0 ? 0.0 : 0.5;
            t.use_scratch = l != 1;
            run_case(&t);
        }
    }
}

/* Calls from several threads at once (an OpenMP team here; nested regions are off,
 * so each call runs its parts on a team of one) agree bit for bit with a lone call. */
static void test_concurrent_calls(void)
{
#ifdef _OPENMP
    enum { M = 150, N = 200, K = 300, CALLS = 4 };
    float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * K * N);
    float *want = malloc(sizeof(float) * M * N), *got = malloc(sizeof(float) * M * N * CALLS);
    for (int i = 0; i < M * K; i++)
        a[i] = (float)uniform();
    for (int i = 0; i < K * N; i++)
        b[i] = (float)uniform();
    fnn_sgemm(M, N, K, 1.0f, a, K, 1, b, N, 1, 0.0f, want, N, NULL, NULL, 0);
#pragma omp parallel for num_threads(CALLS)
    for (int call = 0; call < CALLS; call++)
        fnn_sgemm(M, N, K, 1.0f, a, K, 1, b, N, 1, 0.0f, got + call * M * N, N, NULL, NULL,
                  0);
    for (int call = 0; call < CALLS; call++)
        if (memcmp(want, got + call * M * N, sizeof(float) * M * N) != 0)
            failures++, fprintf(stderr, "FAIL: concurrent call %d differs\n", call);
    free(a), free(b), free(want), free(got);
#endif
}

/* A scratch sized for one thread, called with more: another thread may raise the count
 * between a caller sizing its scratch and the call. The call must stay inside the
 * scratch (a guard zone after it keeps its pattern) and give the same bits. */
static void test_scratch_smaller_than_the_thread_count(void)
{
    enum { M = 200, N = 300, K = 400, GUARD = 1 << 16 };
    const int threads = fnn_get_num_threads();
    float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * K * N);
    float *want = malloc(sizeof(float) * M * N), *got = malloc(sizeof(float) * M * N);
    for (int i = 0; i < M * K; i++)
        a[i] = (float)uniform();
    for (int i = 0; i < K * N; i++)
        b[i] = (float)uniform();
    fnn_set_num_threads(1);
    const size_t bytes = fnn_gemm_scratch_bytes(0, M, N, K, 1);
    unsigned char *scratch = malloc(bytes + GUARD);
    memset(scratch + bytes, 0xA5, GUARD);
    fnn_sgemm(M, N, K, 1.0f, a, K, 1, b, N, 1, 0.0f, want, N, NULL, scratch, bytes);
    fnn_set_num_threads(8);
    fnn_sgemm(M, N, K, 1.0f, a, K, 1, b, N, 1, 0.0f, got, N, NULL, scratch, bytes);
    fnn_set_num_threads(threads);
    for (size_t i = bytes; i < bytes + GUARD; i++) {
        if (scratch[i] != 0xA5) {
            failures++;
            fprintf(stderr, "FAIL: a scratch of %zu bytes was written at byte %zu\n", bytes, i);
            break;
        }
    }
    if (memcmp(want, got, sizeof(float) * M * N) != 0)
        failures++, fprintf(stderr, "FAIL: a small scratch with 8 threads changed the result\n");
    free(a), free(b), free(want), free(got), free(scratch);
}

/* ------------------------------------------------------------------ parallel loops */

typedef struct count_job {
    int *runs;     /* per task: how many times it ran */
    int threads;   /* worker ids must stay below */
    int bad_worker;
    int nested;    /* each task also makes a nested call of this many tasks */
    unsigned fp_state;
    int bad_fp;
} count_job;

static void count_task(void *ctx, ptrdiff_t task, int worker);

static void nested_task(void *ctx, ptrdiff_t task, int worker)
{
    (void)task, (void)worker;
    __atomic_add_fetch((int *)ctx, 1, __ATOMIC_RELAXED);
}

static void count_task(void *ctx, ptrdiff_t task, int worker)
{
    count_job *j = (count_job *)ctx;
    __atomic_add_fetch(&j->runs[task], 1, __ATOMIC_RELAXED);
    if (worker < 0 || worker >= j->threads)
        __atomic_store_n(&j->bad_worker, 1, __ATOMIC_RELAXED);
#ifdef HAVE_MXCSR
    if (_mm_getcsr() != j->fp_state)
        __atomic_store_n(&j->bad_fp, 1, __ATOMIC_RELAXED);
#endif
    if (j->nested) {
        int inner = 0;
        fnn_parallel_for(j->nested, j->threads, nested_task, &inner);
        if (inner != j->nested)
            __atomic_store_n(&j->bad_worker, 1, __ATOMIC_RELAXED);
    }
}

/* Returns 1 when every task of an n-task call ran exactly once, on a valid worker, with
 * the caller's MXCSR. */
static int parallel_case(ptrdiff_t n, int threads, int nested)
{
    count_job j = {calloc((size_t)(n > 0 ? n : 1), sizeof(int)), threads, 0, nested, 0, 0};
#ifdef HAVE_MXCSR
    j.fp_state = _mm_getcsr();
#endif
    fnn_parallel_for(n, threads, count_task, &j);
    int ok = !j.bad_worker && !j.bad_fp;
    for (ptrdiff_t i = 0; i < n; i++)
        ok = ok && j.runs[i] == 1;
    free(j.runs);
    return ok;
}

static void test_parallel_for(void)
{
    static const ptrdiff_t counts[] = {0, 1, 2, 3, 7, 64, 1000};
    static const int threads[] = {1, 2, 3, 8};
    for (size_t a = 0; a < sizeof counts / sizeof *counts; a++)
        for (size_t b = 0; b < sizeof threads / sizeof *threads; b++)
            for (int rep = 0; rep < 20; rep++)
                if (!parallel_case(counts[a], threads[b], 0)) {
                    failures++;
                    fprintf(stderr, "FAIL: fnn_parallel_for(%td tasks, %d threads)\n",
                            counts[a], threads[b]);
                    rep = 20;
                }
    if (!parallel_case(50, 2, 5))
        failures++, fprintf(stderr, "FAIL: fnn_parallel_for called from its tasks\n");
#ifdef HAVE_MXCSR
    const unsigned before = _mm_getcsr();
    _mm_setcsr(before | 0x8040); /* flush-to-zero, denormals-are-zero */
    if (!parallel_case(64, 2, 0))
        failures++, fprintf(stderr, "FAIL: tasks do not run with the caller's MXCSR\n");
    _mm_setcsr(before);
#endif
#ifdef _OPENMP
    int bad = 0;
#pragma omp parallel for num_threads(4) reduction(+ : bad)
    for (int call = 0; call < 16; call++)
        bad += !parallel_case(100, 2, 0);
    if (bad)
        failures++, fprintf(stderr, "FAIL: concurrent fnn_parallel_for calls\n");
#endif
}

/* What the GEMM driver of one element type relies on in a level's table (gemm/gemm.h). */
static int gemm_table_complete(const gemm_kernels *g, int elsize)
{
    if (!g || g->elsize != elsize || !g->packed || !g->pack)
        return 0;
    if (g->mr < 1 || g->nr < 1 || g->mr > GEMM_MAX_ROWS || g->mc % g->mr || g->nc % g->nr ||
        g->kc < 1 || g->direct_b_bytes == 0)
        return 0;
    if (g->nr_wide && !g->packed_wide)
        return 0;
    if (g->strided_rows < 1 || g->strided_rows > GEMM_MAX_ROWS)
        return 0;
    for (int r = 1; r <= g->strided_rows; r++) {
        if (!g->strided[r] || g->strided_cols[r] < 1)
            return 0;
        if (g->narrow_cols && !g->narrow[r])
            return 0;
    }
    for (int c = 1; c <= g->columns_max; c++)
        if (!g->columns || !g->columns[c] || g->columns_rows < 1)
            return 0;
    return 1;
}

/* Every level compiled in has its whole table, even where this CPU cannot run it: a
 * name, both GEMM tables, every loop of FNN_CPU_LOOPS. Prints the levels in order. */
static void test_kernel_tables(void)
{
    printf("kernel tables:");
    for (int level = FNN_SIMD_SCALAR; fnn_cpu_at(level) != NULL; level++) {
        const fnn_cpu_kernels *t = fnn_cpu_at(level);
        printf(" %s", t->name);
        if (!gemm_table_complete(t->gemm_f32, 4) || !gemm_table_complete(t->gemm_f64, 8))
            failures++, fprintf(stderr, "FAIL: level %s: incomplete GEMM table\n", t->name);
#define CHECK_LOOP(ret, fn, params)                                                      \
        if (t->fn == NULL)                                                               \
            failures++, fprintf(stderr, "FAIL: level %s has no %s\n", t->name, #fn);
        FNN_CPU_LOOPS(CHECK_LOOP)
#undef CHECK_LOOP
    }
    printf("\n");
    if (fnn_cpu_at(-1) != NULL || fnn_cpu() != fnn_cpu_at(fnn_simd_level()))
        failures++, fprintf(stderr, "FAIL: fnn_cpu / fnn_cpu_at disagree\n");
}

static void test_runtime(void)
{
    int top = fnn_simd_detected();
    if (fnn_set_simd_level(top + 1) != top || fnn_simd_level() != top)
        failures++, fprintf(stderr, "FAIL: a level above the CPU's is not clamped\n");
    if (fnn_set_simd_level(FNN_SIMD_SCALAR) != FNN_SIMD_SCALAR)
        failures++, fprintf(stderr, "FAIL: cannot force the scalar level\n");
    fnn_set_simd_level(top);
    int threads = fnn_get_num_threads();
    fnn_set_num_threads(3);
    if (fnn_get_num_threads() != (fnn_openmp_enabled() ? 3 : 1))
        failures++, fprintf(stderr, "FAIL: set_num_threads(3) not honoured\n");
    fnn_set_num_threads(threads);
}

int main(void)
{
    static const char *const names[] = {"scalar", "avx2", "avx512"};
    test_kernel_tables();
    test_runtime();
    test_parallel_for();
    int top = fnn_simd_detected();
    for (int level = FNN_SIMD_SCALAR; level <= top; level++) {
        fnn_set_simd_level(level);
        fnn_set_num_threads(2); /* each case also runs on 1 thread and compares bits */
        sweep(0);
        sweep(1);
        test_concurrent_calls();
        test_scratch_smaller_than_the_thread_count();
        printf("level %s: %d cases\n", names[level], cases);
    }
    printf("%s: %d cases, %d failures (detected %s, OpenMP %s)\n",
           failures ? "FAILED" : "ok", cases, failures, names[top],
           fnn_openmp_enabled() ? "on" : "off");
    return failures ? 1 : 0;
}
