/*
 * cpu.h - per-CPU code: the table of kernels each CPU level provides, and the run-time
 * choice of one (internal; docs/architecture.md, "Per-CPU code", says how to add a level).
 *
 * Everything that depends on the instruction set is compiled in one translation unit
 * per level, cpu/<level>.c, with that level's compiler flags (cpu/levels.mk) and with
 * nothing else: the level's GEMM kernels and packing (gemm/), and the loops written once
 * in C that the compiler vectorises for the level's ISA (cpu/loops.inc: activations,
 * optimizer rules, dropout masks). The file ends by filling its table, fnn_cpu_<level>.
 * Every other file is built for the baseline and reaches per-CPU code only through
 * fnn_cpu(), the table of the level in use (runtime/runtime.c: the best the CPU has,
 * or lower by FASTNN_SIMD / fnn_set_simd_level), so one binary runs on any x86-64.
 */
#ifndef FASTNN_CPU_H
#define FASTNN_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "common/templates.h"
#include "fastnn.h"

/* The x86 levels' files exist only for x86 (setup.py and csrc/tests/Makefile build them
 * only there); elsewhere the scalar level is the only one. */
#if !defined(FASTNN_X86) && (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define FASTNN_X86 1
#endif

struct gemm_kernels;      /* gemm/gemm.h */
struct fnn_step_coef_f32; /* train/optim.h */
struct fnn_step_coef_f64;

/* ------------------------------------------------------------------ SIMD levels */

/* The loops every level compiles from cpu/loops.inc, as X(return type, name, parameters).
 * Level L defines each as a static function fnn_<name>_<L> (FNN_LEVEL_FN), and its table
 * points at them (FNN_CPU_TABLE): adding an entry here is all it takes for every level
 * to provide it, and a level that lacks it does not compile.
 *   act_forward / act_grad  x = act(x) / d *= act'(z), n elements (fnn_act_*, fastnn.h)
 *   step_update             one optimizer rule over len contiguous elements (optim_loops.inc)
 *   sum_squares / sum_abs   sum of x^2 / |x| in double, in a fixed order (optim_loops.inc)
 *   dropout_mask            count keep-bytes of a mask from element `first` (dropout.c) */
#define FNN_CPU_LOOPS(X)                                                                 \
    X(void, act_forward_f32, (int act, double param, float *x, ptrdiff_t n))             \
    X(void, act_forward_f64, (int act, double param, double *x, ptrdiff_t n))            \
    X(void, act_grad_f32,                                                                \
      (int act, double param, const float *a, const float *z, float *d, ptrdiff_t n))    \
    X(void, act_grad_f64,                                                                \
      (int act, double param, const double *a, const double *z, double *d, ptrdiff_t n)) \
    X(void, step_update_f32,                                                             \
      (const struct fnn_step_coef_f32 *c, ptrdiff_t len, float *p, const float *g,       \
       float *s0, float *s1))                                                            \
    X(void, step_update_f64,                                                             \
      (const struct fnn_step_coef_f64 *c, ptrdiff_t len, double *p, const double *g,     \
       double *s0, double *s1))                                                          \
    X(double, sum_squares_f32, (const float *x, ptrdiff_t len))                          \
    X(double, sum_squares_f64, (const double *x, ptrdiff_t len))                         \
    X(double, sum_abs_f32, (const float *x, ptrdiff_t len))                              \
    X(double, sum_abs_f64, (const double *x, ptrdiff_t len))                             \
    X(void, dropout_mask,                                                                \
      (uint64_t key, uint32_t threshold, ptrdiff_t first, ptrdiff_t count, uint8_t *mask))

/* What one SIMD level provides. */
typedef struct fnn_cpu_kernels {
    const char *name;                               /* as FASTNN_SIMD spells it */
    const struct gemm_kernels *gemm_f32, *gemm_f64; /* kernels and their block sizes */
#define FNN_CPU_FIELD(ret, fn, params) ret(*fn) params;
    FNN_CPU_LOOPS(FNN_CPU_FIELD)
#undef FNN_CPU_FIELD
} fnn_cpu_kernels;

/* Inside cpu/<level>.c, which defines FNN_ISA as its level's name: the name a loop of
 * that level gets (fnn_act_forward_f32 -> fnn_act_forward_f32_avx2), and the level's
 * table, from its loops and its gemm_kernels_f32 / gemm_kernels_f64. */
#define FNN_LEVEL_FN(name) FNN_PASTE(name, FNN_ISA)
#define FNN_CPU_ENTRY(ret, fn, params) .fn = FNN_LEVEL_FN(fnn_##fn),
#define FNN_CPU_TABLE                                                                    \
    {                                                                                    \
        .name = FNN_STRING(FNN_ISA), .gemm_f32 = &gemm_kernels_f32,                      \
        .gemm_f64 = &gemm_kernels_f64, FNN_CPU_LOOPS(FNN_CPU_ENTRY)                      \
    }

/* The tables, indexed by enum fnn_simd (fastnn.h). */
extern const fnn_cpu_kernels fnn_cpu_scalar;
#ifdef FASTNN_X86
extern const fnn_cpu_kernels fnn_cpu_avx2;
extern const fnn_cpu_kernels fnn_cpu_avx512;
#endif

/* The table of the level in use (fnn_simd_level()). */
const fnn_cpu_kernels *fnn_cpu(void);

/* The table of a level, whatever the CPU has: NULL for a level not compiled in (the
 * x86 levels elsewhere) or past the last one. For the scratch sizes of every level and
 * the tests; only fnn_cpu()'s table may be run. */
const fnn_cpu_kernels *fnn_cpu_at(int level);

/* ------------------------------------------------------------------ bf16 GEMM levels
 * The bf16 GEMM (AVX-512 BF16, AMX) is a second axis, chosen apart from the SIMD level:
 * a CPU can have AVX-512 without BF16, and AMX tiles need the kernel's permission
 * (arch_prctl). Its levels are built exactly like the SIMD levels (one cpu/<level>.c
 * each, its flags in levels.mk: FNN_BF16_LEVELS) but fill a table of their own type
 * (gemm_bf16_kernels, gemm/bf16.h); runtime.c holds their detection. They are compiled
 * in where the compiler has their ISAs (FASTNN_HAVE_BF16_ISA). */

struct gemm_bf16_kernels; /* gemm/bf16.h */

/* The tables, one per level above portable (enum fnn_bf16). */
#if defined(FASTNN_X86) && defined(FASTNN_HAVE_BF16_ISA)
extern const struct gemm_bf16_kernels *const fnn_bf16_avx512_bf16;
extern const struct gemm_bf16_kernels *const fnn_bf16_amx;
#endif

/* The table of bf16 level `level` (enum fnn_bf16), whatever the CPU has: NULL for the
 * portable level (no table: the float GEMM), a level not compiled in, or past the last.
 * For the driver (gemm_bf16.c, at the level in use), the scratch sizes of every level
 * and the tests; only the tables of levels up to fnn_bf16_detected() may be run. */
const struct gemm_bf16_kernels *fnn_bf16_at(int level);

#endif /* FASTNN_CPU_H */
