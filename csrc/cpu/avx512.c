/*
 * avx512.c - the AVX-512 level (F, DQ, BW, VL, with AVX2 and FMA: Skylake-SP and later,
 * Zen 4 and later): every per-CPU loop compiled with those flags (levels.mk). runtime.c
 * hands out its table only on a CPU (and OS) that has them all.
 */
#define FNN_ISA avx512

#include "cpu/cpu.h"
#include "gemm/gemm_avx512.h"

#include "gemm/gemm_pack_avx512.inc"    /* packing, for the tables below */
#include "gemm/gemm_columns_avx512.inc" /* column kernels for narrow C, likewise */
#include "gemm/gemm_f32_avx512.inc"     /* float kernels, gemm_kernels_f32 */
#include "gemm/gemm_f64_avx512.inc"     /* double kernels, gemm_kernels_f64 */
#include "cpu/loops.inc"

const fnn_cpu_kernels fnn_cpu_avx512 = FNN_CPU_TABLE;
