/* optim_avx512.c - the optimizer loops (optim_loops.inc) built for AVX-512; optim.c calls
 * them when fnn_simd_level() allows. */
#define FNN_ISA avx512
#define FNN_TEMPLATE "train/optim_loops.inc"
#include "common/instantiate.inc"
