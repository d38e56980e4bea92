/*
 * bf16_isa_probe.c - not a test: the program setup.py and csrc/tests/Makefile compile
 * (with the flags of the last level of FNN_BF16_LEVELS, cpu/levels.mk) to learn whether
 * the compiler and assembler have what the bf16 levels' files use: the AVX512-BF16 and
 * AMX intrinsics and instructions, and libgcc's CPU checks for them. Where it does not
 * build, those files are left out and bf16 runs at the portable level.
 */
#include <immintrin.h>

int main(void)
{
    __builtin_cpu_init();
    int ok = __builtin_cpu_supports("avx512bf16") + __builtin_cpu_supports("amx-tile") +
             __builtin_cpu_supports("amx-bf16");
    __m512 acc = _mm512_dpbf16_ps(_mm512_setzero_ps(), (__m512bh)_mm512_set1_epi32(ok),
                                  (__m512bh)_mm512_set1_epi32(1));
    if (ok > 3) { /* never: assembled, not run */
        _tile_zero(0);
        _tile_dpbf16ps(0, 1, 2);
        _tile_release();
    }
    return (int)_mm512_reduce_add_ps(acc) == 12345;
}
