/*
 * metrics.c - the training metrics' batch sums (fnn_metric_sum_*, fastnn.h): accuracy
 * (argmax, a NaN counting as the largest, as np.argmax), binary accuracy (both sides of
 * 0.5), mse and mae, each the sum over rows of the row's mean over the outputs, added in
 * row order in double. The definitions are reference.metric_sum's; the training step
 * (net.c) adds these sums per batch, so an epoch's metric needs no second pass.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "common/templates.h"
#include "fastnn.h"

#define FNN_TEMPLATE "train/metrics.inc"
#include "common/instantiate.inc"
