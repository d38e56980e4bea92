/*
 * test_net.c - the network passes tested from C alone (no Python, no NumPy).
 *
 * tests/test_native_backend.py builds it with csrc/tests/Makefile (each CPU level's file
 * with its flags, OpenMP when the compiler has it) and runs it; test_c_library.py builds
 * it with -Werror. It checks:
 *   1. backward against central finite differences of forward + loss (double), on a
 *      net with tanh, Dropout, GELU, softmax + cross-entropy, sample weights and an
 *      L1/L2 regularizer: the C passes agree with the maths, not just with NumPy;
 *   2. predict against the forward pass (float and double);
 *   3. no allocation in the steady state of training: malloc and friends are
 *      interposed and counted over 50 steps after a warm-up (glibc, no sanitizer);
 *   4. with OpenMP, parameters after several Adam steps are the same bits with 1 and
 *      2 threads;
 *   5. fnn_net_train_step (rows gathered from a data set, the update fused into
 *      backprop, metrics) gives the bits of the four calls, allocates nothing, and the
 *      same bits with 1 and 2 threads.
 * 3-5 run twice: with float products and with bf16 products (at this CPU's bf16 level).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastnn.h"

static int failures = 0;

#define CHECK(cond, ...)                                                                \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            failures++;                                                                 \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                 \
            printf(__VA_ARGS__);                                                        \
            printf("\n");                                                               \
        }                                                                               \
    } while (0)

/* ------------------------------------------------------------------ counting malloc */
/* Defining malloc & co. in the program replaces glibc's for every caller (libgomp too);
 * each forwards to glibc's own entry point and counts. */
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
#define COUNTS_ALLOCATIONS 1
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
static volatile long allocations = 0;

void *malloc(size_t size)
{
    __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
    return __libc_malloc(size);
}
void *calloc(size_t count, size_t size)
{
    __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
    return __libc_calloc(count, size);
}
void *realloc(void *p, size_t size)
{
    __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
    return __libc_realloc(p, size);
}
int posix_memalign(void **out, size_t alignment, size_t size)
{
    __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
    *out = __libc_memalign(alignment, size);
    return *out ? 0 : 12; /* ENOMEM */
}
void *aligned_alloc(size_t alignment, size_t size)
{
    __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
    return __libc_memalign(alignment, size);
}
#else
#define COUNTS_ALLOCATIONS 0
static long allocations = 0;
/* C11's, which -std=c99 headers do not declare (every libc we build on has it). */
void *aligned_alloc(size_t alignment, size_t size);
#endif

/* ------------------------------------------------------------------ the test network */

enum { N_IN = 12, BATCH = 9, N_OUT = 5, N_LAYERS = 4 };

static uint64_t rng_state = 0x2545F4914F6CDD1Du;
static double uniform(void) /* in [-1, 1) */
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 4503599627370496.0 - 1.0;
}

/* 12 -> 16 tanh -> Dropout 0.3 -> 10 gelu (l1, l2) -> 5 softmax. */
static void make_layers(fnn_layer *layers, ptrdiff_t *n_params)
{
    const ptrdiff_t widths[] = {N_IN, 16, 16, 10, N_OUT};
    const int kinds[] = {FNN_LAYER_DENSE, FNN_LAYER_DROPOUT, FNN_LAYER_DENSE, FNN_LAYER_DENSE};
    const int acts[] = {FNN_ACT_TANH, FNN_ACT_LINEAR, FNN_ACT_GELU, FNN_ACT_SOFTMAX};
    ptrdiff_t offset = 0;
    for (int i = 0; i < N_LAYERS; i++) {
        fnn_layer *l = &layers[i];
        memset(l, 0, sizeof *l);
        l->kind = kinds[i];
        l->act = acts[i];
        l->n_in = widths[i];
        l->n_out = widths[i + 1];
        l->trainable = 1;
        l->w_offset = l->b_offset = -1;
        if (l->kind == FNN_LAYER_DROPOUT) {
            l->rate = 0.3;
            continue;
        }
        l->w_offset = offset;
        offset += l->n_in * l->n_out;
        l->b_offset = offset;
        offset += l->n_out;
    }
    layers[2].l1 = 0.01;
    layers[2].l2 = 0.02;
    *n_params = offset;
}

/* A workspace for `batch` rows of elements of `size` bytes (spec.Workspace's layout),
 * for nets of up to N_LAYERS layers. */
typedef struct buffers {
    void *acts[N_LAYERS], *pres[N_LAYERS];
    uint8_t *masks[N_LAYERS];
    fnn_workspace ws;
} buffers;

static void make_buffers(buffers *b, const fnn_net *net, ptrdiff_t batch, size_t size)
{
    ptrdiff_t width = 0;
    memset(b, 0, sizeof *b);
    for (int i = 0; i < net->n_layers; i++) {
        const fnn_layer *l = &net->layers[i];
        width = l->n_out > width ? l->n_out : width;
        b->acts[i] = calloc((size_t)(batch * l->n_out), size);
        int last = i == net->n_layers - 1;
        int keep = l->kind == FNN_LAYER_DENSE && (l->act == FNN_ACT_GELU || last);
        b->pres[i] = keep ? calloc((size_t)(batch * l->n_out), size) : NULL;
        b->masks[i] = l->kind == FNN_LAYER_DROPOUT ? calloc((size_t)(batch * l->n_out), 1) : NULL;
    }
    b->ws.batch = batch;
    b->ws.acts = b->acts;
    b->ws.pres = b->pres;
    b->ws.masks = b->masks;
    b->ws.dout = calloc((size_t)(batch * net->layers[net->n_layers - 1].n_out), size);
    b->ws.delta[0] = calloc((size_t)(batch * width), size);
    b->ws.delta[1] = calloc((size_t)(batch * width), size);
    b->ws.scratch_bytes = fnn_net_scratch_bytes(net, size == sizeof(double), batch,
                                                fnn_get_num_threads());
    b->ws.scratch = b->ws.scratch_bytes ? aligned_alloc(64, (b->ws.scratch_bytes + 63) / 64 * 64)
                                        : NULL;
}

static void free_buffers(buffers *b)
{
    for (int i = 0; i < N_LAYERS; i++) {
        free(b->acts[i]);
        free(b->pres[i]);
        free(b->masks[i]);
    }
    free(b->ws.dout);
    free(b->ws.delta[0]);
    free(b->ws.delta[1]);
    free(b->ws.scratch);
}

/* ------------------------------------------------------------------ 1. gradient check */

static double loss_at(const fnn_net *net, const double *params, const double *x,
                      const int64_t *labels, const double *weights, buffers *b)
{
    double loss = 0;
    fnn_net_forward_f64(net, params, x, BATCH, &b->ws, 1, 77, 5);
    int status = fnn_net_loss_grad_f64(net, FNN_LOSS_CROSS_ENTROPY, 0, params, &b->ws, BATCH,
                                       labels, NULL, weights, &loss);
    CHECK(status == 0, "loss status %d", status);
    return loss;
}

static void test_gradient_check(void)
{
    fnn_layer layers[N_LAYERS];
    ptrdiff_t n_params;
    make_layers(layers, &n_params);
    const fnn_net net = {layers, N_LAYERS};
    double *params = malloc(sizeof(double) * (size_t)n_params);
    double *grads = malloc(sizeof(double) * (size_t)n_params);
    double x[BATCH * N_IN], weights[BATCH];
    int64_t labels[BATCH];
    for (ptrdiff_t i = 0; i < n_params; i++)
        params[i] = 0.5 * uniform();
    for (int i = 0; i < BATCH * N_IN; i++)
        x[i] = uniform();
    for (int i = 0; i < BATCH; i++) {
        labels[i] = (int64_t)(i % N_OUT);
        weights[i] = 1.0 + 0.5 * uniform();
    }
    buffers b;
    make_buffers(&b, &net, BATCH, sizeof(double));
    loss_at(&net, params, x, labels, weights, &b);
    fnn_net_backward_f64(&net, params, grads, &b.ws, x, BATCH);
    double worst = 0;
    for (ptrdiff_t i = 0; i < n_params; i++) {
        const double h = 1e-6, saved = params[i];
        params[i] = saved + h;
        double up = loss_at(&net, params, x, labels, weights, &b);
        params[i] = saved - h;
        double down = loss_at(&net, params, x, labels, weights, &b);
        params[i] = saved;
        double numeric = (up - down) / (2 * h);
        double error = fabs(numeric - grads[i]) / fmax(1e-3, fabs(numeric) + fabs(grads[i]));
        worst = fmax(worst, error);
    }
    /* rounding in (up - down) / 2h is ~1e-10 absolute; gradients are >= ~1e-3 */
    CHECK(worst < 1e-5, "finite differences: worst relative error %g", worst);
    printf("gradient check: %td parameters, worst relative error %.2g\n", n_params, worst);
    free_buffers(&b);
    free(params);
    free(grads);
}

/* ------------------------------------------------------------------ 2. predict */

static void test_predict_matches_forward(void)
{
    fnn_layer layers[N_LAYERS];
    ptrdiff_t n_params;
    make_layers(layers, &n_params);
    const fnn_net net = {layers, N_LAYERS};
    enum { ROWS = 300 };
    float *params = malloc(sizeof(float) * (size_t)n_params);
    float *x = malloc(sizeof(float) * ROWS * N_IN), *out = malloc(sizeof(float) * ROWS * N_OUT);
    for (ptrdiff_t i = 0; i < n_params; i++)
        params[i] = (float)(0.5 * uniform());
    for (int i = 0; i < ROWS * N_IN; i++)
        x[i] = (float)uniform();
    buffers b;
    make_buffers(&b, &net, ROWS, sizeof(float));
    fnn_net_forward_f32(&net, params, x, ROWS, &b.ws, 0, 0, 0);
    enum { CHUNK = 128 }; /* 300 rows: two full chunks and a ragged one */
    size_t bytes = fnn_net_predict_scratch_bytes(&net, 0, CHUNK, fnn_get_num_threads());
    void *scratch = aligned_alloc(64, (bytes + 63) / 64 * 64);
    ptrdiff_t bad = fnn_net_predict_f32(&net, params, x, ROWS, CHUNK, out, scratch, bytes);
    CHECK(bad == -1, "predict found a non-finite row (%td) in finite data", bad);
    const float *forward = b.acts[N_LAYERS - 1];
    double worst = 0;
    for (int i = 0; i < ROWS * N_OUT; i++)
        worst = fmax(worst, fabs((double)out[i] - forward[i]));
    CHECK(worst < 1e-6, "predict differs from forward by %g", worst);
    /* a NaN or infinity is reported by row, in the first chunk, a later one, the last
     * element */
    const ptrdiff_t bad_at[] = {0, 131 * N_IN + 2, ROWS * N_IN - 1};
    const float bad_values[] = {NAN, INFINITY, -INFINITY};
    for (int t = 0; t < 3; t++) {
        const float kept = x[bad_at[t]];
        x[bad_at[t]] = bad_values[t];
        bad = fnn_net_predict_f32(&net, params, x, ROWS, CHUNK, out, scratch, bytes);
        CHECK(bad == bad_at[t] / N_IN, "non-finite row %td reported as %td", bad_at[t] / N_IN,
              bad);
        x[bad_at[t]] = kept;
    }
    free(scratch);
    free_buffers(&b);
    free(params);
    free(x);
    free(out);
}

/* ------------------------------------------------------------------ 3, 4. training */

/* `steps` Adam steps on a 64-128-10 float net from fixed data; returns allocations made
 * during the last `counted` steps and leaves the parameters in `params`. */
static long train(float *params, ptrdiff_t n_params, const fnn_net *net, int steps, int counted)
{
    enum { ROWS = 96 };
    float *x = malloc(sizeof(float) * ROWS * 64), *grads = calloc((size_t)n_params, 4);
    float *m = calloc((size_t)n_params, 4), *v = calloc((size_t)n_params, 4);
    float *states[2] = {m, v};
    int64_t labels[ROWS];
    uint64_t saved_rng = rng_state;
    rng_state = 99;
    for (int i = 0; i < ROWS * 64; i++)
        x[i] = (float)uniform();
    for (int i = 0; i < ROWS; i++)
        labels[i] = i % 10;
    rng_state = saved_rng;
    const fnn_step_spec spec = {.kind = FNN_OPT_ADAM, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-7,
                                .clipnorm = 1.0};
    const int64_t segments[2] = {0, n_params};
    buffers b;
    make_buffers(&b, net, ROWS, sizeof(float));
    long before = 0;
    for (int t = 1; t <= steps; t++) {
        if (t == steps - counted + 1)
            before = allocations;
        double loss;
        fnn_net_forward_f32(net, params, x, ROWS, &b.ws, 1, 3, (uint64_t)t);
        fnn_net_loss_grad_f32(net, FNN_LOSS_CROSS_ENTROPY, 0, params, &b.ws, ROWS, labels, NULL,
                              NULL, &loss);
        fnn_net_backward_f32(net, params, grads, &b.ws, x, ROWS);
        fnn_step_f32(&spec, params, grads, states, segments, 1, 1e-3, t);
    }
    long made = allocations - before;
    free_buffers(&b);
    free(x);
    free(grads);
    free(m);
    free(v);
    return made;
}

static void test_train_step(const fnn_net *net, ptrdiff_t n_params, const float *start);

/* Training at one product precision (enum fnn_precision: float, or bf16 products). */
static void test_training(int precision)
{
    fnn_layer layers[3] = {
        {.kind = FNN_LAYER_DENSE, .act = FNN_ACT_RELU, .n_in = 64, .n_out = 128, .w_offset = 0,
         .b_offset = 64 * 128, .trainable = 1},
        {.kind = FNN_LAYER_DROPOUT, .n_in = 128, .n_out = 128, .w_offset = -1, .b_offset = -1,
         .rate = 0.2, .trainable = 1},
        {.kind = FNN_LAYER_DENSE, .act = FNN_ACT_SOFTMAX, .n_in = 128, .n_out = 10,
         .w_offset = 64 * 128 + 128, .b_offset = 64 * 128 + 128 + 1280, .trainable = 1,
         .l2 = 1e-4},
    };
    layers[0].precision = layers[2].precision = precision;
    printf("products in %s:\n", precision == FNN_PRECISION_BF16 ? "bf16" : "float");
    const fnn_net net = {layers, 3};
    const ptrdiff_t n_params = 64 * 128 + 128 + 1280 + 10;
    float *start = malloc(sizeof(float) * (size_t)n_params);
    float *one = malloc(sizeof(float) * (size_t)n_params);
    float *two = malloc(sizeof(float) * (size_t)n_params);
    for (ptrdiff_t i = 0; i < n_params; i++)
        start[i] = (float)(0.2 * uniform());

    const int threads = fnn_get_num_threads();
    if (COUNTS_ALLOCATIONS) { /* the counter itself works */
        long before = allocations;
        void *volatile probe = malloc(16); /* volatile: kept, not optimised away */
        free(probe);
        CHECK(allocations == before + 1, "the malloc counter does not count");
    }
    memcpy(one, start, sizeof(float) * (size_t)n_params);
    long made = train(one, n_params, &net, 53, 50);
    if (COUNTS_ALLOCATIONS) {
        CHECK(made == 0, "%ld allocations in 50 steady-state training steps", made);
        printf("allocations in 50 steady-state steps: %ld\n", made);
    } else {
        printf("allocation count skipped (not glibc, or a sanitizer owns malloc)\n");
    }
    if (fnn_openmp_enabled()) {
        fnn_set_num_threads(1);
        memcpy(one, start, sizeof(float) * (size_t)n_params);
        train(one, n_params, &net, 4, 0);
        fnn_set_num_threads(2);
        memcpy(two, start, sizeof(float) * (size_t)n_params);
        train(two, n_params, &net, 4, 0);
        CHECK(memcmp(one, two, sizeof(float) * (size_t)n_params) == 0,
              "parameters differ between 1 and 2 threads");
        printf("1 and 2 threads: %s\n",
               memcmp(one, two, sizeof(float) * (size_t)n_params) ? "differ" : "same bits");
        fnn_set_num_threads(threads);
    }
    test_train_step(&net, n_params, start);
    free(start);
    free(one);
    free(two);
}

/* ------------------------------------------------------------------ 5. one call per step */

enum { DATA_ROWS = 200, STEP_ROWS = 32 };

/* `steps` Adam steps (no clipnorm: fused) on batches of STEP_ROWS rows picked from a
 * data set of DATA_ROWS, either by fnn_net_train_step (with_step) or by gathering here
 * and the four calls; returns the allocations of the last `counted` steps. */
static long train_rows(float *params, ptrdiff_t n_params, const fnn_net *net, int steps,
                       int counted, int with_step, double *accuracy)
{
    float *data = malloc(sizeof(float) * DATA_ROWS * 64);
    float *xb = malloc(sizeof(float) * STEP_ROWS * 64);
    float *grads = calloc((size_t)n_params, 4);
    float *m = calloc((size_t)n_params, 4), *v = calloc((size_t)n_params, 4);
    float *states[2] = {m, v};
    int64_t labels[DATA_ROWS], lb[STEP_ROWS], rows[STEP_ROWS];
    float gx[STEP_ROWS * 64];
    int64_t gl[STEP_ROWS];
    uint64_t saved_rng = rng_state;
    rng_state = 7;
    for (int i = 0; i < DATA_ROWS * 64; i++)
        data[i] = (float)uniform();
    for (int i = 0; i < DATA_ROWS; i++)
        labels[i] = (i * 7) % 10;
    rng_state = saved_rng;
    const fnn_step_spec spec = {.kind = FNN_OPT_ADAM, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-7};
    const int64_t segments[2] = {0, n_params};
    const int metrics[2] = {FNN_METRIC_ACCURACY, FNN_METRIC_MSE};
    double totals[2] = {0, 0};
    buffers b;
    make_buffers(&b, net, STEP_ROWS, sizeof(float));
    b.ws.gather_x = gx;
    b.ws.gather_labels = gl;
    long before = 0;
    for (int t = 1; t <= steps; t++) {
        if (t == steps - counted + 1)
            before = allocations;
        for (int i = 0; i < STEP_ROWS; i++)
            rows[i] = (t * 37 + i * 13) % DATA_ROWS;
        double loss;
        if (with_step) {
            const fnn_train_step step = {
                .n = STEP_ROWS, .x = data, .labels = labels, .rows = rows, .n_data = DATA_ROWS,
                .loss = FNN_LOSS_CROSS_ENTROPY, .seed = 3, .dropout_step = (uint64_t)t,
                .opt = &spec, .params = params, .grads = grads, .states = (void *const *)states,
                .segments = segments, .n_segments = 1, .lr = 1e-3, .t = t,
                .metrics = metrics, .n_metrics = 2, .totals = totals};
            int status = fnn_net_train_step_f32(net, &b.ws, &step, &loss);
            CHECK(status == 0, "train_step status %d", status);
        } else {
            for (int i = 0; i < STEP_ROWS; i++) {
                memcpy(xb + i * 64, data + rows[i] * 64, sizeof(float) * 64);
                lb[i] = labels[rows[i]];
            }
            fnn_net_forward_f32(net, params, xb, STEP_ROWS, &b.ws, 1, 3, (uint64_t)t);
            fnn_net_loss_grad_f32(net, FNN_LOSS_CROSS_ENTROPY, 0, params, &b.ws, STEP_ROWS, lb,
                                  NULL, NULL, &loss);
            fnn_metric_sum_f32(FNN_METRIC_ACCURACY, STEP_ROWS, 10, b.ws.acts[2], lb, NULL,
                               &totals[0]);
            fnn_net_backward_f32(net, params, grads, &b.ws, xb, STEP_ROWS);
            fnn_step_f32(&spec, params, grads, states, segments, 1, 1e-3, t);
        }
    }
    long made = allocations - before;
    *accuracy = totals[0];
    free_buffers(&b);
    free(data);
    free(xb);
    free(grads);
    free(m);
    free(v);
    return made;
}

static void test_train_step(const fnn_net *net, ptrdiff_t n_params, const float *start)
{
    size_t bytes = sizeof(float) * (size_t)n_params;
    float *one = malloc(bytes), *two = malloc(bytes);
    double hits_one, hits_two;
    memcpy(one, start, bytes);
    train_rows(one, n_params, net, 6, 0, 0, &hits_one);
    memcpy(two, start, bytes);
    long made = train_rows(two, n_params, net, 6, 3, 1, &hits_two);
    CHECK(memcmp(one, two, bytes) == 0, "train_step differs from the four calls");
    CHECK(hits_one == hits_two, "train_step's accuracy %g, the four calls' %g", hits_two, hits_one);
    if (COUNTS_ALLOCATIONS)
        CHECK(made == 0, "%ld allocations in 3 steady-state train steps", made);
    printf("train_step: %s as the four calls, %ld allocations\n",
           memcmp(one, two, bytes) ? "not the same" : "the same bits", made);
    if (fnn_openmp_enabled()) {
        const int threads = fnn_get_num_threads();
        fnn_set_num_threads(1);
        memcpy(one, start, bytes);
        train_rows(one, n_params, net, 4, 0, 1, &hits_one);
        fnn_set_num_threads(2);
        memcpy(two, start, bytes);
        train_rows(two, n_params, net, 4, 0, 1, &hits_two);
        CHECK(memcmp(one, two, bytes) == 0, "train_step differs between 1 and 2 threads");
        fnn_set_num_threads(threads);
    }
    free(one);
    free(two);
}

int main(void)
{
    test_gradient_check();
    test_predict_matches_forward();
    test_training(FNN_PRECISION_FLOAT32);
    test_training(FNN_PRECISION_BF16); /* at the bf16 level this CPU has */
    if (failures) {
        printf("%d failures\n", failures);
        return 1;
    }
    printf("ok: network passes (OpenMP %s)\n", fnn_openmp_enabled() ? "on" : "off");
    return 0;
}
