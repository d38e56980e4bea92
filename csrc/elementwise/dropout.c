/*
 * dropout.c - Dropout: counter-based keep-masks and their application.
 *
 * Element i of the mask of layer l at step s keeps when
 *     fnn_mix64(fnn_dropout_key(seed, s, l) + (i + 1) * GOLDEN) >> 40 >= round(rate 2^24),
 * exactly as reference.dropout_mask: the same masks bit for bit, whatever the thread
 * count, and nothing to save to resume training. Kept elements are scaled by
 * 1 / (1 - rate) so that the expected output equals the input.
 */
#include <math.h>

#include "cpu/cpu.h"
#include "fastnn.h"

/* Elements per OpenMP work item; below two of them, one thread does it all. */
#define FNN_DROPOUT_CHUNK 16384

uint32_t fnn_dropout_threshold(double rate)
{
    /* rate * 2^24 is exact; rint rounds half to even, as Python's round(). */
    double t = rint(rate * (double)(1u << FNN_DROPOUT_BITS));
    /* !(t > 0): a NaN rate keeps everything too (its conversion to uint32 is undefined). */
    return !(t > 0) ? 0u : t >= (double)(1u << FNN_DROPOUT_BITS) ? (1u << FNN_DROPOUT_BITS) : (uint32_t)t;
}

typedef struct mask_job {
    uint64_t key;
    uint32_t threshold;
    ptrdiff_t first, count;
    uint8_t *mask;
} mask_job;

static void mask_task(void *ctx, ptrdiff_t c, int worker)
{
    const mask_job *j = (const mask_job *)ctx;
    ptrdiff_t start = c * FNN_DROPOUT_CHUNK;
    ptrdiff_t len = j->count - start < FNN_DROPOUT_CHUNK ? j->count - start : FNN_DROPOUT_CHUNK;
    (void)worker;
    fnn_cpu()->dropout_mask(j->key, j->threshold, j->first + start, len, j->mask + start);
}

void fnn_dropout_mask(uint64_t key, uint32_t threshold, ptrdiff_t first, ptrdiff_t count,
                      uint8_t *mask)
{
    mask_job j = {key, threshold, first, count, mask};
    fnn_parallel_for((count + FNN_DROPOUT_CHUNK - 1) / FNN_DROPOUT_CHUNK,
                     fnn_get_num_threads(), mask_task, &j);
}

/* x * (mask ? scale : 0) is what reference's x * (mask * scale) computes, bit for bit. */
void fnn_dropout_apply_f32(ptrdiff_t count, const float *x, const uint8_t *mask, float scale,
                           float *out)
{
    for (ptrdiff_t i = 0; i < count; i++)
        out[i] = x[i] * (mask[i] ? scale : 0.0f);
}

void fnn_dropout_apply_f64(ptrdiff_t count, const double *x, const uint8_t *mask,
                           double scale, double *out)
{
    for (ptrdiff_t i = 0; i < count; i++)
        out[i] = x[i] * (mask[i] ? scale : 0.0);
}
