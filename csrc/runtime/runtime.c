/*
 * runtime.c - what the kernels ask about the machine and the user's settings: the SIMD
 * level (detected once, optionally forced lower), the table of per-CPU kernels that
 * level serves (fnn_cpu, cpu/cpu.h), and the thread count.
 *
 * State here is a handful of ints written with relaxed atomics: detection is
 * idempotent (two threads racing to detect store the same value), and the two
 * settings are plain values a caller may change between kernel calls.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "fastnn.h"

#ifdef FASTNN_HAVE_OPENMP
#include <omp.h>
#endif

#if defined(__GNUC__)
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#else
#define LOAD(x) (x)
#define STORE(x, v) ((x) = (v))
#endif

#define UNKNOWN (-1)

/* The kernel table of each SIMD level compiled in, indexed by enum fnn_simd. */
static const fnn_cpu_kernels *const tables[] = {
    [FNN_SIMD_SCALAR] = &fnn_cpu_scalar,
#ifdef FASTNN_X86
    [FNN_SIMD_AVX2] = &fnn_cpu_avx2,
    [FNN_SIMD_AVX512] = &fnn_cpu_avx512,
#endif
};
#define N_LEVELS ((int)(sizeof tables / sizeof tables[0]))

static int detected_level = UNKNOWN; /* what the CPU (and OS) support */
static int active_level = UNKNOWN;   /* what the kernels use */
static int thread_count = 0;         /* 0: not set, use the OpenMP default */

static int detect(void)
{
#ifdef FASTNN_X86
    /* libgcc's checks include the OS's XSAVE support for the wider registers. */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return FNN_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return FNN_SIMD_AVX2;
#endif
    return FNN_SIMD_SCALAR;
}

/* FASTNN_SIMD=scalar|avx2|avx512 (a table's name, any case); anything else means "no
 * preference". (Off x86 only scalar is compiled in, which every value comes to.) */
static int level_from_environment(void)
{
    const char *value = getenv("FASTNN_SIMD");
    if (value == NULL)
        return UNKNOWN;
    for (int level = 0; level < N_LEVELS; level++) {
        const char *name = tables[level]->name;
        size_t i = 0;
        while (name[i] != '\0' && (value[i] | 0x20) == name[i])
            i++;
        if (name[i] == '\0' && value[i] == '\0')
            return level;
    }
    return UNKNOWN;
}

int fnn_simd_detected(void)
{
    int level = LOAD(detected_level);
    if (level == UNKNOWN) {
        level = detect();
        STORE(detected_level, level);
    }
    return level;
}

static int clamp_level(int level)
{
    int top = fnn_simd_detected();
    if (level < FNN_SIMD_SCALAR)
        return FNN_SIMD_SCALAR;
    return level > top ? top : level;
}

int fnn_simd_level(void)
{
    int level = LOAD(active_level);
    if (level == UNKNOWN) {
        int wanted = level_from_environment();
        level = clamp_level(wanted == UNKNOWN ? fnn_simd_detected() : wanted);
        STORE(active_level, level);
    }
    return level;
}

int fnn_set_simd_level(int level)
{
    level = clamp_level(level);
    STORE(active_level, level);
    return level;
}

const fnn_cpu_kernels *fnn_cpu(void)
{
    return tables[fnn_simd_level()];
}

const fnn_cpu_kernels *fnn_cpu_at(int level)
{
    return level >= 0 && level < N_LEVELS ? tables[level] : NULL;
}

/* ------------------------------------------------------------------ bf16 GEMM level
 * The bf16 level's detection (AVX512_BF16; AMX: CPUID, then Linux's tile permission
 * from arch_prctl(ARCH_REQ_XCOMP_PERM)), its setting and its table of tables go here,
 * beside the SIMD level's and independent of it (cpu/cpu.h). */

int fnn_openmp_enabled(void)
{
#ifdef FASTNN_HAVE_OPENMP
    return 1;
#else
    return 0;
#endif
}

void fnn_set_num_threads(int n)
{
    STORE(thread_count, n < 1 ? 1 : n);
}

int fnn_get_num_threads(void)
{
#ifdef FASTNN_HAVE_OPENMP
    int n = LOAD(thread_count);
    /* omp_get_max_threads() honours OMP_NUM_THREADS and the CPU affinity mask. */
    return n > 0 ? n : omp_get_max_threads();
#else
    return 1;
#endif
}
