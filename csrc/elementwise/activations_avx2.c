/*
 * activations_avx2.c - the activation loops compiled for AVX2 + FMA.
 * setup.py gives this file its ISA flags by its name; activations.c calls it only
 * when fnn_simd_level() allows. The loops themselves are in activations_loops.inc.
 */
#include "elementwise/activations_isa.h"

#define FNN_ISA avx2

#define FNN_TEMPLATE "elementwise/activations_loops.inc"
#include "common/instantiate.inc"
