/*
 * dispatch.h - run-time choice among the per-ISA builds of a kernel (internal).
 *
 * An elementwise kernel family is written once in a *_loops.inc template and compiled
 * three times: in X.c (baseline), X_avx2.c and X_avx512.c, which setup.py builds with
 * their ISA's flags. Each build's entry points carry the suffix _base, _avx2 or
 * _avx512; FNN_DISPATCH(fn, args...) calls the best one that fnn_simd_level() allows
 * (so FASTNN_SIMD and fnn_set_simd_level reach every path). The AVX builds exist only
 * on x86 (FASTNN_X86).
 */
#ifndef FASTNN_DISPATCH_H
#define FASTNN_DISPATCH_H

#include "fastnn.h"

/* Token pasting for the templates: FNN_NAME(fnn_x, f32, avx2) -> fnn_x_f32_avx2. */
#define FNN_NAME_(a, b, c) a##_##b##_##c
#define FNN_NAME(a, b, c) FNN_NAME_(a, b, c)
#define FNN_PASTE_(a, b) a##_##b
#define FNN_PASTE(a, b) FNN_PASTE_(a, b)

/* An expression: the call of fn's best allowed build (fn is macro-expanded first, so
 * FNN_DISPATCH(SFX(fnn_x), ...) works inside templates). */
#ifdef FASTNN_X86
#define FNN_DISPATCH(fn, ...)                                                           \
    (fnn_simd_level() >= FNN_SIMD_AVX512 ? FNN_PASTE(fn, avx512)(__VA_ARGS__)           \
     : fnn_simd_level() >= FNN_SIMD_AVX2 ? FNN_PASTE(fn, avx2)(__VA_ARGS__)             \
                                         : FNN_PASTE(fn, base)(__VA_ARGS__))
/* Declares a kernel's builds from its prototype macro P(suffix). */
#define FNN_DECLARE_ISA_BUILDS(P) P(base) P(avx2) P(avx512)
#else
#define FNN_DISPATCH(fn, ...) FNN_PASTE(fn, base)(__VA_ARGS__)
#define FNN_DECLARE_ISA_BUILDS(P) P(base)
#endif

#endif /* FASTNN_DISPATCH_H */
