/*
 * runtime.c - what the kernels ask about the machine and the user's settings: the SIMD
 * level (detected once, optionally forced lower), the table of per-CPU kernels that
 * level serves (fnn_cpu, cpu/cpu.h), the bf16 GEMM level and its tables (fnn_bf16_at),
 * and the thread count.
 *
 * State here is a handful of ints written with relaxed atomics: detection is
 * idempotent (two threads racing to detect store the same value), and the two
 * settings are plain values a caller may change between kernel calls.
 */
#define _GNU_SOURCE /* syscall(), for the AMX permission */
#include <stdlib.h>
#include <string.h>

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

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
 * Beside the SIMD level and independent of it (cpu/cpu.h): what the CPU and OS offer,
 * the level in use (FASTNN_BF16 or fnn_set_bf16_level may lower it), and the tables. */

/* The bf16 levels' tables, indexed by enum fnn_bf16 (portable has none: NULL). */
static const struct gemm_bf16_kernels *const *const bf16_tables[] = {
    [FNN_BF16_PORTABLE] = NULL,
#if defined(FASTNN_X86) && defined(FASTNN_HAVE_BF16_ISA)
    [FNN_BF16_AVX512_BF16] = &fnn_bf16_avx512_bf16,
    [FNN_BF16_AMX] = &fnn_bf16_amx,
#endif
};
#define N_BF16_LEVELS ((int)(sizeof bf16_tables / sizeof bf16_tables[0]))
static const char *const bf16_names[] = {"portable", "avx512_bf16", "amx"};

static int bf16_detected_level = UNKNOWN;
static int bf16_active_level = UNKNOWN;

#if defined(FASTNN_X86) && defined(FASTNN_HAVE_BF16_ISA)
/* Linux keeps AMX's 8 KiB of tile state out of a process until it asks for it
 * (arch_prctl ARCH_REQ_XCOMP_PERM 0x1023, XFEATURE_XTILEDATA 18); the first tile
 * instruction without it raises SIGILL. Asked once, for the whole process (the grant
 * holds for every thread); a kernel without AMX support, or a sandbox, refuses, and
 * AMX is not used. */
static int amx_permitted(void)
{
#if defined(__linux__) && defined(SYS_arch_prctl)
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
#else
    return 0;
#endif
}
#endif

static int detect_bf16(void)
{
#if defined(FASTNN_X86) && defined(FASTNN_HAVE_BF16_ISA)
    /* Both levels' files are AVX-512 F/BW/DQ/VL code too (the epilogue, the packing):
     * that level first (which includes the OS's support for the zmm state). */
    if (fnn_simd_detected() < FNN_SIMD_AVX512)
        return FNN_BF16_PORTABLE;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512bf16"))
        return FNN_BF16_PORTABLE;
    if (__builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-bf16") &&
        amx_permitted())
        return FNN_BF16_AMX;
    return FNN_BF16_AVX512_BF16;
#else
    return FNN_BF16_PORTABLE;
#endif
}

/* FASTNN_BF16=portable|avx512_bf16|amx (any case); anything else: no preference. */
static int bf16_level_from_environment(void)
{
    const char *value = getenv("FASTNN_BF16");
    if (value == NULL)
        return UNKNOWN;
    for (int level = 0; level < N_BF16_LEVELS; level++) {
        const char *name = bf16_names[level];
        size_t i = 0;
        while (name[i] != '\0' && (value[i] | 0x20) == name[i])
            i++;
        if (name[i] == '\0' && value[i] == '\0')
            return level;
    }
    return UNKNOWN;
}

int fnn_bf16_detected(void)
{
    int level = LOAD(bf16_detected_level);
    if (level == UNKNOWN) {
        level = detect_bf16();
        STORE(bf16_detected_level, level);
    }
    return level;
}

static int clamp_bf16_level(int level)
{
    const int top = fnn_bf16_detected();
    return level < FNN_BF16_PORTABLE ? FNN_BF16_PORTABLE : level > top ? top : level;
}

int fnn_bf16_level(void)
{
    int level = LOAD(bf16_active_level);
    if (level == UNKNOWN) {
        const int wanted = bf16_level_from_environment();
        level = clamp_bf16_level(wanted == UNKNOWN ? fnn_bf16_detected() : wanted);
        STORE(bf16_active_level, level);
    }
    /* A SIMD level forced below AVX-512 (FASTNN_SIMD, fnn_set_simd_level) means: run as
     * a CPU without it, so without its bf16 instructions too. */
    return fnn_simd_level() < FNN_SIMD_AVX512 ? FNN_BF16_PORTABLE : level;
}

int fnn_set_bf16_level(int level)
{
    STORE(bf16_active_level, clamp_bf16_level(level));
    return fnn_bf16_level();
}

const struct gemm_bf16_kernels *fnn_bf16_at(int level)
{
    if (level <= FNN_BF16_PORTABLE || level >= N_BF16_LEVELS)
        return NULL;
    return *bf16_tables[level];
}

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
