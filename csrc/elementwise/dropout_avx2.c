/* dropout_avx2.c - Dropout's mask loop (dropout_loops.inc) built for AVX2 + FMA; dropout.c
 * calls it when fnn_simd_level() allows. */
#define FNN_ISA avx2
#include "elementwise/dropout_loops.inc"
