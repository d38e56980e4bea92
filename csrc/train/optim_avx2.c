/* optim_avx2.c - the optimizer loops (optim_loops.inc) built for AVX2 + FMA; optim.c calls
 * them when fnn_simd_level() allows. */
#define FNN_ISA avx2
#define FNN_TEMPLATE "train/optim_loops.inc"
#include "common/instantiate.inc"
