/* dropout_avx512.c - Dropout's mask loop (dropout_loops.inc) built for AVX-512; dropout.c
 * calls it when fnn_simd_level() allows. */
#define FNN_ISA avx512
#include "elementwise/dropout_loops.inc"
