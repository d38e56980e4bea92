/*
 * gemm_dispatch.c - which kernel table serves a SIMD level. The tables themselves are
 * data defined next to their kernels, in files compiled for their ISA; only this
 * baseline file decides which one to use, after the run-time CPU check (runtime.c).
 */
#include "gemm/gemm.h"

extern const gemm_kernels gemm_kernels_f32_portable, gemm_kernels_f64_portable;
#ifdef FASTNN_X86
extern const gemm_kernels gemm_kernels_f32_avx2, gemm_kernels_f64_avx2;
extern const gemm_kernels gemm_kernels_f32_avx512, gemm_kernels_f64_avx512;
#endif

const gemm_kernels *gemm_kernels_for(int level, int is_double)
{
#ifdef FASTNN_X86
    static const gemm_kernels *const tables[3][2] = {
        {&gemm_kernels_f32_portable, &gemm_kernels_f64_portable},
        {&gemm_kernels_f32_avx2, &gemm_kernels_f64_avx2},
        {&gemm_kernels_f32_avx512, &gemm_kernels_f64_avx512},
    };
    if (level < FNN_SIMD_SCALAR || level > FNN_SIMD_AVX512)
        level = FNN_SIMD_SCALAR;
    return tables[level][is_double != 0];
#else
    (void)level;
    return is_double ? &gemm_kernels_f64_portable : &gemm_kernels_f32_portable;
#endif
}
