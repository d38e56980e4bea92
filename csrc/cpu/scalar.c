/*
 * scalar.c - the scalar level: the per-CPU code compiled for the baseline of the target
 * (no flags of its own in levels.mk), for CPUs without AVX2 + FMA and for every target
 * that is not x86. Its GEMM is the portable one, plain C99 and the reference the SIMD
 * kernels are tested against.
 */
#define FNN_ISA scalar

#include "cpu/cpu.h"
#include "gemm/gemm.h"

#include "gemm/gemm_portable.inc" /* gemm_kernels_f32 / _f64 and their kernels */
#include "cpu/loops.inc"

const fnn_cpu_kernels fnn_cpu_scalar = FNN_CPU_TABLE;
