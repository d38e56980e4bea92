/*
 * avx2.c - the AVX2 + FMA level (Haswell and later, Zen and later): every per-CPU loop
 * compiled with -mavx2 -mfma (levels.mk). runtime.c hands out its table only on a CPU
 * that has both, so nothing here runs on one that lacks them.
 */
#define FNN_ISA avx2

#include "cpu/cpu.h"
#include "gemm/gemm_avx2.h"

#include "gemm/gemm_pack_avx2.inc" /* packing, for the tables below */
#include "gemm/gemm_f32_avx2.inc"  /* float kernels, gemm_kernels_f32 */
#include "gemm/gemm_f64_avx2.inc"  /* double kernels, gemm_kernels_f64 */
#include "cpu/loops.inc"

const fnn_cpu_kernels fnn_cpu_avx2 = FNN_CPU_TABLE;
