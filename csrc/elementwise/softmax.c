/*
 * softmax.c - softmax's row passes (fnn_softmax_rows_*, fnn_softmax_grad_rows_*,
 * fastnn.h): a row operation, not an elementwise one, so it is built once for the
 * baseline. The rows are softmax.inc, for float and double.
 */
#include <stddef.h>

#include "common/templates.h"
#include "elementwise/vmath.h"
#include "fastnn.h"

#define FNN_TEMPLATE "elementwise/softmax.inc"
#include "common/instantiate.inc"
