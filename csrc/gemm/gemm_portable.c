/*
 * gemm_portable.c - the portable level: C99 kernels for any CPU, and the reference the
 * SIMD kernels are tested against. Tiles are small enough for 16 SSE registers:
 * float 4 x 8 (two 4-wide vectors per row), double 4 x 4.
 */
#include "gemm/gemm.h"

#define T float
#define FN(x) x##_f32
#define PMR 4
#define PNR 8
#define SMR 4
#define SNR 8
#include "gemm/gemm_portable.inc"
#undef T
#undef FN
#undef PMR
#undef PNR
#undef SMR
#undef SNR

#define T double
#define FN(x) x##_f64
#define PMR 4
#define PNR 4
#define SMR 4
#define SNR 8
#include "gemm/gemm_portable.inc"
#undef T
#undef FN
#undef PMR
#undef PNR
#undef SMR
#undef SNR

/* Block sizes for an unknown CPU: a 4 x KC A panel and a KC x 8 B panel (8 KiB at
 * KC 256, float) sit in any L1; an MC x KC A block (128 KiB) in a typical L2. */
const gemm_kernels gemm_kernels_f32_portable = {
    .name = "portable",
    .elsize = 4,
    .mr = 4, .nr = 8, .mc = 128, .kc = 256, .nc = 2048,
    .packed = packed_f32,
    .pack = gemm_pack_portable_f32,
    .strided_rows = 4,
    .strided_cols = {0, 8, 8, 8, 8},
    .strided = {NULL, strided1_f32, strided2_f32, strided3_f32, strided4_f32},
    .panel = {NULL, strided1_f32, strided2_f32, strided3_f32, strided4_f32},
    .direct_b_bytes = 1 << 18,
};

const gemm_kernels gemm_kernels_f64_portable = {
    .name = "portable",
    .elsize = 8,
    .mr = 4, .nr = 4, .mc = 128, .kc = 128, .nc = 2048,
    .packed = packed_f64,
    .pack = gemm_pack_portable_f64,
    .strided_rows = 4,
    .strided_cols = {0, 8, 8, 8, 8},
    .strided = {NULL, strided1_f64, strided2_f64, strided3_f64, strided4_f64},
    .panel = {NULL, strided1_f64, strided2_f64, strided3_f64, strided4_f64},
    .direct_b_bytes = 1 << 18,
};
