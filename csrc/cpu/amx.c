/*
 * amx.c - the AMX level of the bf16 GEMM (Sapphire Rapids and later): its tile kernels,
 * and its packing and epilogue, compiled with the AMX + AVX-512 BF16 flags (levels.mk).
 * runtime.c hands out its table only on a CPU that has AMX-BF16, after Linux granted
 * the process the tile state (arch_prctl).
 */
#define FNN_ISA amx

#include "cpu/cpu.h"
#include "gemm/bf16.h"
#include "gemm/gemm_avx512.h"

#include "gemm/gemm_bf16_store.inc" /* the epilogue, gemm_bf16_tile_out */
#include "gemm/bf16_pack.inc"       /* packing, gemm_bf16_pack */
#include "gemm/gemm_bf16_amx.inc"   /* the kernels, gemm_bf16_amx */

const struct gemm_bf16_kernels *const fnn_bf16_amx = &gemm_bf16_amx;
