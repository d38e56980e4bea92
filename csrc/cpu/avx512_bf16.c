/*
 * avx512_bf16.c - the AVX512-BF16 level of the bf16 GEMM (Zen 4 and later, Cooper Lake
 * and later): its kernels, packing and epilogue compiled with the AVX-512 + BF16 flags
 * (levels.mk). runtime.c hands out its table only on a CPU (and OS) that has them.
 */
#define FNN_ISA avx512_bf16

#include "cpu/cpu.h"
#include "gemm/bf16.h"
#include "gemm/gemm_avx512.h"

#include "gemm/gemm_bf16_store.inc"      /* the epilogue, gemm_bf16_tile_out */
#include "gemm/bf16_pack.inc"            /* packing, gemm_bf16_pack */
#include "gemm/gemm_bf16_avx512bf16.inc" /* the kernels, gemm_bf16_avx512bf16 */

const struct gemm_bf16_kernels *const fnn_bf16_avx512_bf16 = &gemm_bf16_avx512bf16;
