/*
 * net.c - whole-network forward, loss, backward, training step and predict (fastnn.h,
 * "networks").
 *
 * One call runs every layer, and fnn_net_train_step_* a whole training step (gather,
 * forward, loss, metrics, backward, optimizer): one call from Python per batch,
 * whatever the depth. A Dense layer's forward is one GEMM whose epilogue adds the bias,
 * keeps the pre-activation where needed and applies the activation; backward is two
 * GEMMs (dW = X^T dZ, dX = dZ W^T with the lower layer's activation derivative in its
 * epilogue) and a column sum for db; the training step updates each layer right after
 * its backward, while its gradient is in cache. Every buffer is the caller's
 * (fnn_workspace, or predict's scratch): nothing here allocates. Reductions (db, the
 * loss, the penalty, the metrics) run in a fixed order and the GEMM splits only
 * independent output blocks, so the results are the same bits for any thread count.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/templates.h"
#include "fastnn.h"
#include "train/optim.h"

/* Round a byte count up to whole 64-byte lines (buffers inside one scratch block). */
static size_t fnn_round64(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

static ptrdiff_t fnn_max_width(const fnn_net *net)
{
    ptrdiff_t width = 0;
    for (int i = 0; i < net->n_layers; i++)
        width = net->layers[i].n_out > width ? net->layers[i].n_out : width;
    return width;
}

/* Index of the first trainable Dense layer (n_layers when none): backprop stops there. */
static int fnn_lowest_trainable(const fnn_net *net)
{
    for (int i = 0; i < net->n_layers; i++)
        if (net->layers[i].kind == FNN_LAYER_DENSE && net->layers[i].trainable)
            return i;
    return net->n_layers;
}

static size_t fnn_max_size(size_t a, size_t b) { return a > b ? a : b; }

/* End of a Dense layer's parameters: W, then b where it has one (spec.NetSpec.segments). */
static ptrdiff_t fnn_layer_end(const fnn_layer *l)
{
    return l->b_offset >= 0 ? l->b_offset + l->n_out : l->w_offset + l->n_in * l->n_out;
}

/* Whether a training step can update each layer inside backprop: no clipnorm (which
 * needs the norm of the whole gradient first) and segments that are exactly the
 * trainable Dense layers' ranges, adjacent ones merged (NetSpec.segments()), so that
 * updating layer by layer touches the same elements as one pass over the segments. */
static int fnn_update_fuses(const fnn_net *net, const fnn_train_step *s)
{
    if (s->opt->clipnorm > 0)
        return 0;
    ptrdiff_t matched = 0;        /* segments equal to the ranges built so far */
    int64_t start = 0, stop = -1; /* the range being built (none while stop < 0) */
    for (int i = 0; i <= net->n_layers; i++) {     /* i == n_layers: close the last range */
        const fnn_layer *l = i < net->n_layers ? &net->layers[i] : NULL;
        if (l && (l->kind != FNN_LAYER_DENSE || !l->trainable))
            continue;
        if (l && stop == l->w_offset) {            /* adjacent: one range */
            stop = fnn_layer_end(l);
            continue;
        }
        if (stop >= 0) {
            const int64_t *next = s->segments + 2 * matched;
            if (matched == s->n_segments || next[0] != start || next[1] != stop)
                return 0;
            matched++;
        }
        if (l) {
            start = l->w_offset;
            stop = fnn_layer_end(l);
        }
    }
    return matched == s->n_segments;
}

/* Scratch for one of layer l's products (m x n, depth k), in the layer's precision. */
static size_t fnn_layer_gemm_scratch(const fnn_layer *l, int is_double, ptrdiff_t m,
                                     ptrdiff_t n, ptrdiff_t k, int threads)
{
    if (!is_double && l->precision == FNN_PRECISION_BF16)
        return fnn_gemm_bf16_scratch_bytes(m, n, k, threads);
    return fnn_gemm_scratch_bytes(is_double, m, n, k, threads);
}

size_t fnn_net_scratch_bytes(const fnn_net *net, int is_double, ptrdiff_t batch, int threads)
{
    size_t bytes = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const fnn_layer *l = &net->layers[i];
        if (l->kind != FNN_LAYER_DENSE)
            continue;
        bytes = fnn_max_size(bytes, fnn_layer_gemm_scratch(l, is_double, batch, l->n_out,
                                                           l->n_in, threads));
        bytes = fnn_max_size(bytes, fnn_layer_gemm_scratch(l, is_double, l->n_in, l->n_out,
                                                           batch, threads));
        bytes = fnn_max_size(bytes, fnn_layer_gemm_scratch(l, is_double, batch, l->n_in,
                                                           l->n_out, threads));
    }
    return bytes;
}

/* Layer l's weights packed for predict's chunks of `rows` rows (0: its products do not
 * pack B, or compute in bf16). */
static size_t fnn_layer_packed_bytes(const fnn_layer *l, int is_double, ptrdiff_t rows)
{
    if (l->kind != FNN_LAYER_DENSE || (!is_double && l->precision == FNN_PRECISION_BF16))
        return 0;
    return fnn_round64(fnn_gemm_packed_b_bytes(is_double, rows, l->n_out, l->n_in, 1));
}

/* All of predict's packed weights with their table of pointers, or 0 when none pack. */
static size_t fnn_net_predict_packed_bytes(const fnn_net *net, int is_double, ptrdiff_t rows)
{
    size_t bytes = 0;
    for (int i = 0; i < net->n_layers; i++)
        bytes += fnn_layer_packed_bytes(&net->layers[i], is_double, rows);
    return bytes > 0 ? bytes + fnn_round64((size_t)net->n_layers * sizeof(void *)) : 0;
}

/* One thread's part of the chunk-parallel predict for chunks of `rows` rows: its two
 * activation buffers and its products' scratch on one thread; 0 where a layer computes
 * in bf16 (that predict takes the layer-by-layer way). */
static size_t fnn_net_predict_slot_bytes(const fnn_net *net, int is_double, ptrdiff_t rows)
{
    size_t elem = is_double ? sizeof(double) : sizeof(float);
    size_t bytes = 2 * fnn_round64((size_t)(rows * fnn_max_width(net)) * elem);
    size_t gemm = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const fnn_layer *l = &net->layers[i];
        if (l->kind != FNN_LAYER_DENSE)
            continue;
        if (!is_double && l->precision == FNN_PRECISION_BF16)
            return 0;
        gemm = fnn_max_size(gemm,
                            fnn_gemm_scratch_bytes(is_double, rows, l->n_out, l->n_in, 1));
    }
    return fnn_round64(bytes + gemm);
}

size_t fnn_net_predict_scratch_bytes(const fnn_net *net, int is_double, ptrdiff_t rows,
                                     int threads)
{
    size_t elem = is_double ? sizeof(double) : sizeof(float);
    size_t buffers = 2 * fnn_round64((size_t)(rows * fnn_max_width(net)) * elem);
    size_t gemm = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const fnn_layer *l = &net->layers[i];
        if (l->kind == FNN_LAYER_DENSE)
            gemm = fnn_max_size(gemm, fnn_layer_gemm_scratch(l, is_double, rows, l->n_out,
                                                             l->n_in, threads));
    }
    size_t parallel =
        threads > 1 ? (size_t)threads * fnn_net_predict_slot_bytes(net, is_double, rows) : 0;
    return fnn_net_predict_packed_bytes(net, is_double, rows) +
           fnn_max_size(buffers + gemm, parallel);
}

#define FNN_TEMPLATE "train/net.inc"
#include "common/instantiate.inc"
