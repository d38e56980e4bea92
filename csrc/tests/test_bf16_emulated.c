/*
 * test_bf16_emulated.c - the AVX512-BF16 and AMX kernels of fnn_sgemm_bf16, run on any
 * CPU: their own source (csrc/gemm/gemm_bf16_avx512bf16.inc, gemm_bf16_amx.inc, the
 * fragments cpu/avx512_bf16.c and cpu/amx.c are built from) is included here after
 * bf16_emulate.h, which defines the handful of intrinsics they use in plain C from the
 * Intel SDM's definitions, with the same packing (bf16_pack.inc), and run through the
 * real driver (gemm_bf16.c) and the rest of the library.
 *
 * Build and run: make -C csrc/tests bin/test_bf16_emulated && csrc/tests/bin/test_bf16_emulated
 * (tests/test_bf16.py builds and runs it as part of pytest).
 *
 * What it proves, for every table: the packed layouts the kernels read (pairs, 32-k
 * groups, tile strides and offsets), the K padding and K blocking, edge blocks (rows,
 * columns and K not multiples of the block), the M/N/K loops and the thread split (1
 * and 2 threads agree bit for bit), the per-thread tile configuration (a tile
 * instruction on a thread that did not load it aborts), the tile shapes against the
 * SDM's rules, scratch use (nothing past the caller's bytes is touched), and the results
 * against a double-precision reference of the bf16-rounded operands: within the float
 * summation bound on random data, and exactly (all levels alike) on small integers,
 * whose sums are exact in any order.
 *
 * What it cannot prove: that the real instructions behave as the SDM's pseudo-code (the
 * exact rounding of each accumulation step; real AMX units may round their dot
 * products differently), the instruction encodings and the compiler's register use,
 * the AVX-512 epilogue store (gemm_bf16_store.inc: a plain-C twin stands in below; it
 * is the float AVX-512 kernels' store, tested with them on AVX-512 hosts),
 * the CPU and OS checks (cpuid, arch_prctl), and speed. tests/test_bf16.py covers those
 * on hosts that have the instructions.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FASTNN_BF16_EMULATE 1
#include "tests/bf16_emulate.h"

#include "cpu/cpu.h"
#include "gemm/bf16.h"

static int failures = 0, cases = 0;
static uint64_t rng_state = 0x2545F4914F6CDD1Du;

static double uniform(void) /* in [-1, 1) */
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 4503599627370496.0 - 1.0;
}

static float bf16_round(float x) { return bf16_to_f32(bf16_from_f32(x)); }

/* ------------------------------------------------- the store's plain-C twin */

/* gemm_bf16_tile_out as gemm_bf16_store.inc computes it, in scalar C. */
static void gemm_bf16_tile_out(const float *tile, int ld, int rows, int cols, const gemm_out *o,
                               ptrdiff_t i, ptrdiff_t j)
{
    const int relu = o->act == FNN_ACT_RELU;
    for (int r = 0; r < rows; r++) {
        float *c = (float *)o->c + (i + r) * o->ldc + j;
        for (int q = 0; q < cols; q++) {
            float t = o->alpha != 1 ? (float)o->alpha * tile[r * ld + q] : tile[r * ld + q];
            if (o->beta != 0)
                t = fmaf((float)o->beta, c[q], t);
            if (o->mode == FNN_EPI_FORWARD) {
                if (o->bias)
                    t += ((const float *)o->bias)[j + q];
                if (o->z)
                    ((float *)o->z)[(i + r) * o->ldz + j + q] = t;
                if (relu)
                    t = t < 0 ? 0.0f : t;
            } else if (o->mode == FNN_EPI_ACT_GRAD && relu) {
                t = ((const float *)o->aux)[(i + r) * o->ld_aux + j + q] > 0 ? t : 0.0f;
            }
            c[q] = t;
        }
    }
    if (o->mode != FNN_EPI_NONE && !gemm_act_in_register(o->act))
        gemm_finish_rows(o, i, j, rows, cols);
}

/* The kernels and their tables (gemm_bf16_avx512bf16, gemm_bf16_amx), as the levels'
 * files build them, on the emulated intrinsics. */
#include "gemm/bf16_pack.inc"
#include "gemm/gemm_bf16_amx.inc"
#include "gemm/gemm_bf16_avx512bf16.inc"

/* ------------------------------------------------- operands */

enum layout { ROW, COL, STRIDED, N_LAYOUTS };
static const char *const layout_names[] = {"row", "col", "strided"};

typedef struct matrix {
    float *buf;
    ptrdiff_t rs, cs, rows, cols;
} matrix;

/* rows x cols; `integers`: values in -3..3 (exact in bf16; sums exact in float). */
static matrix make_matrix(ptrdiff_t rows, ptrdiff_t cols, enum layout lay, int integers)
{
    matrix x = {NULL, 0, 0, rows, cols};
    switch (lay) {
    case ROW: x.rs = cols + 3, x.cs = 1; break;
    case COL: x.rs = 1, x.cs = rows; break;
    default: x.rs = 2 * cols + 1, x.cs = 2; break;
    }
    const ptrdiff_t count = (rows + 1) * (2 * cols + 3) + 8;
    x.buf = (float *)malloc((size_t)count * sizeof(float));
    for (ptrdiff_t e = 0; e < count; e++)
        x.buf[e] = integers ? (float)(int)(3.5 * uniform()) : (float)(2 * uniform());
    return x;
}

static float at(const matrix *x, ptrdiff_t r, ptrdiff_t c) { return x->buf[r * x->rs + c * x->cs]; }

/* ------------------------------------------------- one product, checked */

enum epilogue { PLAIN, SCALED, BIAS_RELU, RELU_GRAD, SIGMOID, N_EPILOGUES };
static const char *const epilogue_names[] = {"plain", "alpha-beta", "bias+relu+z", "relu'",
                                             "sigmoid"};

typedef struct product {
    ptrdiff_t m, n, k;
    matrix a, b;
    float alpha, beta;
    enum epilogue epi;
    float *c0, *bias, *aux; /* C's initial values, bias (n), aux (m x n) */
    int integers;
    enum layout la, lb;
} product;

static product make_product(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, enum layout la,
                            enum layout lb, enum epilogue epi, int integers)
{
    product p;
    p.m = m, p.n = n, p.k = k, p.epi = epi, p.integers = integers, p.la = la, p.lb = lb;
    p.a = make_matrix(m, k, la, integers);
    p.b = make_matrix(k, n, lb, integers);
    p.alpha = epi == SCALED ? 0.5f : 1.0f;
    p.beta = epi == SCALED ? -1.5f : 0.0f;
    p.c0 = (float *)malloc((size_t)(m * n) * sizeof(float));
    p.aux = (float *)malloc((size_t)(m * n) * sizeof(float));
    p.bias = (float *)malloc((size_t)n * sizeof(float));
    for (ptrdiff_t e = 0; e < m * n; e++) {
        p.c0[e] = integers ? (float)(int)(3.5 * uniform()) : (float)uniform();
        p.aux[e] = (float)uniform();
    }
    for (ptrdiff_t e = 0; e < n; e++)
        p.bias[e] = integers ? (float)(int)(3.5 * uniform()) : (float)uniform();
    return p;
}

static void free_product(product *p)
{
    free(p->a.buf), free(p->b.buf), free(p->c0), free(p->aux), free(p->bias);
}

static fnn_epilogue epilogue_of(const product *p, float *z)
{
    fnn_epilogue e;
    memset(&e, 0, sizeof e);
    e.mode = FNN_EPI_NONE;
    if (p->epi == BIAS_RELU || p->epi == SIGMOID) {
        e.mode = FNN_EPI_FORWARD;
        e.act = p->epi == BIAS_RELU ? FNN_ACT_RELU : FNN_ACT_SIGMOID;
        e.bias = p->bias;
        e.z = z, e.ldz = p->n;
    } else if (p->epi == RELU_GRAD) {
        e.mode = FNN_EPI_ACT_GRAD;
        e.act = FNN_ACT_RELU;
        e.aux = p->aux, e.ld_aux = p->n;
    }
    return e;
}

/* C (and z) from one path: table t (NULL: fnn_sgemm_bf16 at the portable level). */
static void run(const gemm_bf16_kernels *t, const product *p, float *c, float *z, void *scratch,
                size_t scratch_bytes)
{
    memcpy(c, p->c0, (size_t)(p->m * p->n) * sizeof(float));
    const fnn_epilogue e = epilogue_of(p, z);
    if (t == NULL) {
        fnn_sgemm_bf16(p->m, p->n, p->k, p->alpha, p->a.buf, p->a.rs, p->a.cs, p->b.buf,
                       p->b.rs, p->b.cs, p->beta, c, p->n, &e, scratch, scratch_bytes);
        return;
    }
    /* as fnn_sgemm_bf16 hands a call to its table */
    gemm_out o;
    memset(&o, 0, sizeof o);
    o.elsize = 4, o.c = c, o.ldc = p->n, o.alpha = p->alpha, o.beta = p->beta;
    o.mode = e.mode, o.act = e.mode == FNN_EPI_NONE ? FNN_ACT_LINEAR : e.act;
    o.bias = e.bias, o.z = e.z, o.ldz = e.ldz, o.aux = e.aux, o.ld_aux = e.ld_aux;
    const gemm_operands op = {p->a.buf, p->a.rs, p->a.cs, p->b.buf, p->b.rs, p->b.cs, p->k};
    gemm_bf16_run(t, &op, &o, p->m, p->n, scratch, scratch_bytes);
}

static double sigmoid(double x) { return 1 / (1 + exp(-x)); }

/* Checks C against the double reference of the rounded operands: exactly for integer
 * data, else within the float summation bound. Returns 0 when it fails. */
static int check(const char *what, const product *p, const float *c, const float *z)
{
    int bad = 0;
    for (ptrdiff_t i = 0; i < p->m && bad < 3; i++) {
        for (ptrdiff_t j = 0; j < p->n && bad < 3; j++) {
            double sum = 0, size = 0;
            for (ptrdiff_t q = 0; q < p->k; q++) {
                const double t = (double)bf16_round(at(&p->a, i, q)) *
                                 (double)bf16_round(at(&p->b, q, j));
                sum += t, size += fabs(t);
            }
            double t = p->alpha * sum + p->beta * (double)p->c0[i * p->n + j];
            size = fabs(p->alpha) * size + fabs(p->beta * (double)p->c0[i * p->n + j]);
            if (p->epi == BIAS_RELU || p->epi == SIGMOID)
                t += p->bias[j], size += fabs(p->bias[j]);
            const double pre = t;
            if (p->epi == BIAS_RELU)
                t = t > 0 ? t : 0;
            else if (p->epi == SIGMOID)
                t = sigmoid(t);
            else if (p->epi == RELU_GRAD)
                t = p->aux[i * p->n + j] > 0 ? t : 0;
            const double bound = 2.0 * (double)(p->k + 4) * ldexp(size, -24) + 1e-30;
            const double tol = p->integers ? 0 : bound;
            const double got = c[i * p->n + j];
            int ok = fabs(got - t) <= tol + (p->epi == SIGMOID ? 1e-6 : 0);
            if (z && (p->epi == BIAS_RELU || p->epi == SIGMOID))
                ok = ok && fabs((double)z[i * p->n + j] - pre) <= tol;
            if (!ok) {
                if (bad == 0)
                    printf("FAIL %s: m=%td n=%td k=%td %s x %s, %s, %s: C[%td,%td] = %.9g, "
                           "expected %.9g (tol %.3g)\n",
                           what, p->m, p->n, p->k, layout_names[p->la], layout_names[p->lb],
                           epilogue_names[p->epi], p->integers ? "integers" : "random", i, j,
                           got, t, tol);
                bad++;
            }
        }
    }
    cases++;
    if (bad)
        failures++;
    return bad == 0;
}

static int same_bits(const char *what, const product *p, const float *x, const float *y)
{
    cases++;
    if (memcmp(x, y, (size_t)(p->m * p->n) * sizeof(float)) != 0) {
        printf("FAIL %s: m=%td n=%td k=%td %s: results differ in their bits\n", what, p->m,
               p->n, p->k, epilogue_names[p->epi]);
        failures++;
        return 0;
    }
    return 1;
}

/* ------------------------------------------------- the tests */

/* Every table over awkward shapes around its block, layouts and epilogues. */
static void test_table(const gemm_bf16_kernels *t)
{
    const ptrdiff_t ms[] = {1, 3, t->mr / 2, t->mr / 2 + 1, t->mr - 1, t->mr, t->mr + 1,
                           2 * t->mr + 3};
    const ptrdiff_t ns[] = {1, 5, t->nr / 2, t->nr / 2 + 1, t->nr - 1, t->nr, t->nr + 1,
                           2 * t->nr + 7};
    const ptrdiff_t ks[] = {1, 2, 3, 31, 32, 33, 64, 65};
    int index = 0;
    for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
        for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
            for (size_t q = 0; q < sizeof ks / sizeof *ks; q++, index++) {
                const int integers = index % 3 == 0;
                product p = make_product(ms[a], ns[b], ks[q], (enum layout)(index % N_LAYOUTS),
                                         (enum layout)(index / 3 % N_LAYOUTS),
                                         (enum epilogue)(index % N_EPILOGUES), integers);
                float *c = malloc((size_t)(p.m * p.n) * sizeof(float));
                float *z = malloc((size_t)(p.m * p.n) * sizeof(float));
                run(t, &p, c, z, NULL, 0);
                check(t->name, &p, c, z);
                free(c), free(z);
                free_product(&p);
            }
}

/* Shapes past the cache blocks: several K blocks (the first writes with beta, the last
 * applies the epilogue), more rows than MC, more columns than NC. */
static void test_blocks(const gemm_bf16_kernels *t)
{
    const ptrdiff_t shapes[][3] = {
        {t->mr + 1, t->nr + 3, t->kc + 37},      /* two K blocks */
        {5, 9, 2 * t->kc + 11},                  /* three */
        {t->mc + t->mr + 2, 7, 3},               /* two M blocks */
        {3, t->nc + t->nr + 1, 5},               /* two N blocks */
    };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int e = 0; e < N_EPILOGUES; e++) {
            product p = make_product(shapes[s][0], shapes[s][1], shapes[s][2], (enum layout)(e % 3),
                                     (enum layout)((e + 1) % 3), (enum epilogue)e, e % 2);
            float *c = malloc((size_t)(p.m * p.n) * sizeof(float));
            float *z = malloc((size_t)(p.m * p.n) * sizeof(float));
            run(t, &p, c, z, NULL, 0);
            check(t->name, &p, c, z);
            free(c), free(z);
            free_product(&p);
        }
}

/* Integers: every table and the portable path give the exact result, so the same bits. */
static void test_levels_agree(void)
{
    const gemm_bf16_kernels *tables[] = {&gemm_bf16_avx512bf16, &gemm_bf16_amx};
    const int before = fnn_bf16_level();
    fnn_set_bf16_level(FNN_BF16_PORTABLE);
    const ptrdiff_t shapes[][3] = {{37, 45, 70}, {16, 32, 32}, {1, 100, 300}, {70, 3, 1000}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        product p = make_product(shapes[s][0], shapes[s][1], shapes[s][2], ROW, COL, BIAS_RELU, 1);
        const size_t bytes = (size_t)(p.m * p.n) * sizeof(float);
        float *portable = malloc(bytes), *c = malloc(bytes), *z = malloc(bytes);
        run(NULL, &p, portable, z, NULL, 0);
        check("portable", &p, portable, z);
        for (int q = 0; q < 2; q++) {
            run(tables[q], &p, c, z, NULL, 0);
            same_bits(tables[q]->name, &p, portable, c);
        }
        free(portable), free(c), free(z);
        free_product(&p);
    }
    fnn_set_bf16_level(before);
}

/* 1 and 2 threads: the same bits (rectangles of C aligned to the blocks, never K). */
static void test_threads(const gemm_bf16_kernels *t)
{
    if (!fnn_openmp_enabled())
        return;
    const int before = fnn_get_num_threads();
    const ptrdiff_t shapes[][3] = {{3 * t->mr + 1, 3 * t->nr + 5, 100}, {2 * t->mr, 9, 700}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        product p = make_product(shapes[s][0], shapes[s][1], shapes[s][2], ROW, ROW, SCALED, 0);
        const size_t bytes = (size_t)(p.m * p.n) * sizeof(float);
        float *one = malloc(bytes), *two = malloc(bytes);
        fnn_set_num_threads(1);
        run(t, &p, one, NULL, NULL, 0);
        fnn_set_num_threads(2);
        run(t, &p, two, NULL, NULL, 0);
        check(t->name, &p, two, NULL);
        same_bits("1 vs 2 threads", &p, one, two);
        free(one), free(two);
        free_product(&p);
    }
    fnn_set_num_threads(before);
}

/* The caller's scratch: too small (the call allocates its own and leaves it alone) or
 * large; never a byte past scratch_bytes. */
static void test_scratch(const gemm_bf16_kernels *t)
{
    const size_t sizes[] = {100, 1 << 22};
    for (size_t s = 0; s < 2; s++) {
        product p = make_product(2 * t->mr + 1, t->nr + 2, 77, ROW, COL, PLAIN, 0);
        unsigned char *scratch = malloc(sizes[s] + 256);
        memset(scratch, 0xA5, sizes[s] + 256);
        float *c = malloc((size_t)(p.m * p.n) * sizeof(float));
        run(t, &p, c, NULL, scratch + 1, sizes[s]); /* misaligned on purpose */
        check(t->name, &p, c, NULL);
        int touched = scratch[0] != 0xA5;
        for (size_t e = sizes[s] + 1; e < sizes[s] + 256; e++)
            touched |= scratch[e] != 0xA5;
        for (size_t e = 1; s == 0 && e <= sizes[s]; e++)
            touched |= scratch[e] != 0xA5; /* too small: not used at all */
        cases++;
        if (touched) {
            printf("FAIL %s: scratch of %zu bytes: bytes outside its use were written\n",
                   t->name, sizes[s]);
            failures++;
        }
        free(scratch), free(c);
        free_product(&p);
    }
}

/* gemm_bf16_pack against the layout's formula, zeros and rounding included, for each
 * of its loops (the layouts: depth-contiguous, width-contiguous, strided). */
static void test_pack(void)
{
    const int groups[] = {2, 32, 4}, panels[] = {8, 32, 48}; /* 4 and 48: the fallback */
    for (int g = 0; g < 3; g++)
        for (int pn = 0; pn < 3; pn++)
            for (int lay = 0; lay < N_LAYOUTS; lay++) {
                const int group = groups[g], panel = panels[pn];
                const ptrdiff_t width = 2 * panel + 3, depth = 2 * group + 5;
                const ptrdiff_t pad = (depth + group - 1) / group * group;
                matrix x = make_matrix(width, depth, (enum layout)lay, 0);
                x.buf[x.rs] = NAN, x.buf[2 * x.rs] = 1e-40f; /* a NaN and a subnormal */
                const ptrdiff_t pstride = pad * panel + 32, panels_n = 3;
                uint16_t *dst = malloc((size_t)(panels_n * pstride) * sizeof(uint16_t));
                memset(dst, 0xEE, (size_t)(panels_n * pstride) * sizeof(uint16_t));
                gemm_bf16_pack(width, depth, pad, x.buf, x.rs, x.cs, panel, group, dst,
                               pstride);
                int bad = 0;
                for (ptrdiff_t q = 0; q < panels_n; q++)
                    for (ptrdiff_t d = 0; d < pad; d++)
                        for (int w = 0; w < panel; w++) {
                            const ptrdiff_t wi = q * panel + w;
                            const uint16_t want = wi < width && d < depth
                                                      ? bf16_from_f32(at(&x, wi, d)) : 0;
                            const uint16_t got = dst[q * pstride + d / group * panel * group +
                                                     w * group + d % group];
                            bad += got != want;
                        }
                cases++;
                if (bad) {
                    printf("FAIL pack group %d panel %d %s: %d elements wrong\n", group, panel,
                           layout_names[lay], bad);
                    failures++;
                }
                free(dst), free(x.buf);
            }
}

/* The AMX level sends products too small for its tiles to the AVX512-BF16 kernels; the
 * real tables (built from the same fragments) have the emulated ones' geometry. */
static void test_routing(void)
{
#ifdef FASTNN_HAVE_BF16_ISA
    static const struct {
        int level;
        ptrdiff_t m, k;
        const char *want;
    } routes[] = {
        {FNN_BF16_AMX, 64, 64, "amx"},
        {FNN_BF16_AMX, 8, 64, "avx512_bf16"},
        {FNN_BF16_AMX, 64, 10, "avx512_bf16"},
        {FNN_BF16_AVX512_BF16, 64, 64, "avx512_bf16"},
        {FNN_BF16_PORTABLE, 64, 64, "portable"},
    };
    for (size_t r = 0; r < sizeof routes / sizeof *routes; r++) {
        const gemm_bf16_kernels *t =
            gemm_bf16_kernels_for(routes[r].level, routes[r].m, routes[r].k);
        cases++;
        if (strcmp(t ? t->name : "portable", routes[r].want) != 0) {
            printf("FAIL routing: level %d, m %td, k %td took %s, not %s\n", routes[r].level,
                   routes[r].m, routes[r].k, t ? t->name : "portable", routes[r].want);
            failures++;
        }
    }
    const gemm_bf16_kernels *emulated[] = {&gemm_bf16_avx512bf16, &gemm_bf16_amx};
    for (int q = 0; q < 2; q++) {
        const gemm_bf16_kernels *real = fnn_bf16_at(FNN_BF16_AVX512_BF16 + q), *e = emulated[q];
        cases++;
        if (real == NULL || strcmp(real->name, e->name) || real->mr != e->mr ||
            real->nr != e->nr || real->a_group != e->a_group || real->k_unit != e->k_unit ||
            real->mc != e->mc || real->kc != e->kc || real->nc != e->nc) {
            printf("FAIL the real %s table differs from the emulated one\n", e->name);
            failures++;
        }
    }
#else
    printf("routing: not checked (built without the bf16 levels)\n");
#endif
}

int main(void)
{
    const gemm_bf16_kernels *tables[] = {&gemm_bf16_avx512bf16, &gemm_bf16_amx};
    test_pack();
    test_routing();
    for (int t = 0; t < 2; t++) {
        test_table(tables[t]);
        test_blocks(tables[t]);
        test_threads(tables[t]);
        test_scratch(tables[t]);
    }
    test_levels_agree();
    if (failures) {
        printf("%d of %d checks failed\n", failures, cases);
        return 1;
    }
    printf("ok: %d checks of the emulated avx512_bf16 and amx kernels passed\n", cases);
    return 0;
}
