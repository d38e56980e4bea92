/*
 * optim.c - optimizer steps over the flat parameter buffer (fnn_step_*, fastnn.h).
 *
 * The trainable part of the buffer is a few [start, stop) segments; a step treats
 * their concatenation as one vector of L elements cut into fixed chunks (the chunk
 * size depends on L only). Threads (fnn_parallel_for) take whole chunks; every element's update
 * is independent of the others, and the one reduction (the clipnorm norm) is a sum of
 * per-chunk partial sums in chunk order, so the result is the same bits for any
 * thread count. The per-element rules are optim_loops.inc, built per CPU level and
 * taken from fnn_cpu().
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "common/templates.h"
#include "cpu/cpu.h"
#include "fastnn.h"
#include "train/optim.h"

/* Chunks are at least FNN_STEP_CHUNK elements and at most FNN_STEP_MAX_CHUNKS many,
 * so the clipnorm partial sums fit on the stack. */
#define FNN_STEP_CHUNK 16384
#define FNN_STEP_MAX_CHUNKS 1024

typedef struct fnn_chunking {
    const int64_t *segments;
    ptrdiff_t n_segments;
    ptrdiff_t total;      /* L: elements over all segments */
    ptrdiff_t size;       /* elements per chunk (the last may be shorter) */
    ptrdiff_t count;      /* chunks */
} fnn_chunking;

static fnn_chunking fnn_chunks(const int64_t *segments, ptrdiff_t n_segments)
{
    fnn_chunking c = {segments, n_segments, 0, FNN_STEP_CHUNK, 0};
    for (ptrdiff_t s = 0; s < n_segments; s++)
        c.total += (ptrdiff_t)(segments[2 * s + 1] - segments[2 * s]);
    ptrdiff_t fewest = (c.total + FNN_STEP_MAX_CHUNKS - 1) / FNN_STEP_MAX_CHUNKS;
    if (fewest > c.size)
        c.size = (fewest + 63) / 64 * 64;
    c.count = (c.total + c.size - 1) / c.size;
    return c;
}

/* The pieces of chunk `index`: calls body(start, len) for each [start, start+len) of
 * the flat buffer that the chunk covers, in buffer order. */
#define FNN_FOR_EACH_PIECE(c, index, start, len, body)                                  \
    do {                                                                                \
        ptrdiff_t lo_ = (index) * (c).size, hi_ = lo_ + (c).size, base_ = 0;            \
        for (ptrdiff_t s_ = 0; s_ < (c).n_segments && base_ < hi_; s_++) {              \
            ptrdiff_t first_ = (ptrdiff_t)(c).segments[2 * s_];                         \
            ptrdiff_t seg_len_ = (ptrdiff_t)(c).segments[2 * s_ + 1] - first_;         \
            ptrdiff_t a_ = lo_ > base_ ? lo_ : base_;                                   \
            ptrdiff_t b_ = hi_ < base_ + seg_len_ ? hi_ : base_ + seg_len_;             \
            if (a_ < b_) {                                                              \
                ptrdiff_t start = first_ + (a_ - base_), len = b_ - a_;                 \
                body;                                                                   \
            }                                                                           \
            base_ += seg_len_;                                                          \
        }                                                                               \
    } while (0)

int fnn_step_n_states(const fnn_step_spec *spec)
{
    switch (spec->kind) {
    case FNN_OPT_SGD: return spec->momentum > 0 ? 1 : 0;
    case FNN_OPT_ADAM:
    case FNN_OPT_ADAMW: return 2;
    case FNN_OPT_RMSPROP: return spec->momentum > 0 ? 2 : 1;
    case FNN_OPT_ADAGRAD: return 1;
    default: return 0;
    }
}

#define FNN_TEMPLATE "train/optim.inc"
#include "common/instantiate.inc"
