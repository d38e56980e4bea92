/*
 * loss.c - losses and their gradients, fused with the output activation.
 *
 * One pass over the rows of the output layer computes each sample's loss and the
 * gradient with respect to the pre-activation z (fnn_loss_grad_*, fastnn.h). The
 * canonical pairs work from the logits with log-sum-exp: softmax + cross-entropy/KL
 * (gradient a - t) and sigmoid + binary cross-entropy (max(z,0) - z t + log1p(e^-|z|),
 * gradient a - t), so no finite input gives inf or NaN. The definitions, including the
 * means (over the batch; mse/mae/huber/bce also over the outputs), are those of
 * reference.loss_terms. The per-sample losses are summed in double in row order.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "common/templates.h"
#include "fastnn.h"
#include "elementwise/vmath.h"

#define FNN_TEMPLATE "train/loss.inc"
#include "common/instantiate.inc"
