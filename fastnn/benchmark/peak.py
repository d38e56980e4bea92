"""The machine's fp32 FMA peak, measured: GFLOP/s that GEMM figures are a share of.

A tiny C program (compiled here with the system's C compiler, skipped without one)
runs 12 independent chains of FMAs on the widest vector the CPU has (AVX-512, else
AVX2), enough to hide the FMA latency and keep both FMA pipes busy; one copy per core,
pinned, all at once. The best of a few short runs is kept: on a shared machine that is
the run least disturbed. Nominal peaks can mislead on a VM (frequency under AVX-512,
a vCPU that is one hyperthread of a shared core): this is what the cores deliver now.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCE = r"""
#define _GNU_SOURCE
#include <immintrin.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHAINS 12
static volatile float sink; /* keeps the chains' results alive */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define PROBE(NAME, VEC, SET1, FMA, LANES, TARGET)                                      \
    __attribute__((target(TARGET))) static double NAME(long iters)                      \
    {                                                                                   \
        VEC acc[CHAINS], b = SET1(1.0000001f), c = SET1(1e-7f);                         \
        for (int j = 0; j < CHAINS; j++)                                                \
            acc[j] = SET1((float)j);                                                    \
        double t0 = now();                                                              \
        for (long i = 0; i < iters; i++) {                                              \
            _Pragma("GCC unroll 12") /* all chains in registers */                      \
            for (int j = 0; j < CHAINS; j++)                                            \
                acc[j] = FMA(acc[j], b, c);                                             \
        }                                                                               \
        double seconds = now() - t0;                                                    \
        float lanes[LANES];                                                             \
        for (int j = 1; j < CHAINS; j++)                                                \
            acc[0] = FMA(acc[0], b, acc[j]);                                            \
        memcpy(lanes, &acc[0], sizeof lanes);                                           \
        sink = lanes[0];                                                                \
        return 2.0 * LANES * CHAINS * iters / seconds / 1e9;                            \
    }
PROBE(probe512, __m512, _mm512_set1_ps, _mm512_fmadd_ps, 16, "avx512f")
PROBE(probe256, __m256, _mm256_set1_ps, _mm256_fmadd_ps, 8, "avx2,fma")

int main(int argc, char **argv)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(argc > 1 ? atoi(argv[1]) : 0, &set);
    sched_setaffinity(0, sizeof set, &set);
    __builtin_cpu_init();
    int wide = __builtin_cpu_supports("avx512f");
    if (!wide && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))
        return 2;
    double best = 0;
    for (int run = 0; run < 7; run++) {
        double gflops = wide ? probe512(4000000) : probe256(4000000);
        best = gflops > best ? gflops : best;
    }
    printf("%s %.1f\n", wide ? "avx512" : "avx2", best);
    return 0;
}
"""


def fma_peak(cores: list[int]) -> dict | None:
    """{"isa": ..., "per_core": [GFLOP/s, ...], "total": GFLOP/s} with one probe on each
    of ``cores`` at once, or None where it cannot be measured (no compiler, no x86
    SIMD, no affinity)."""
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None or not hasattr(os, "sched_setaffinity"):
        return None
    with tempfile.TemporaryDirectory() as folder:
        source, binary = Path(folder, "peak.c"), Path(folder, "peak")
        source.write_text(SOURCE)
        built = subprocess.run([compiler, "-O2", str(source), "-o", str(binary)],
                               capture_output=True)  # fmt: skip
        if built.returncode != 0:
            return None
        probes = [
            subprocess.Popen([str(binary), str(core)], stdout=subprocess.PIPE, text=True)
            for core in cores
        ]
        answers = [probe.communicate()[0].split() for probe in probes]
    if any(len(answer) != 2 for answer in answers):
        return None
    per_core = [float(answer[1]) for answer in answers]
    return {"isa": answers[0][0], "per_core": per_core, "total": sum(per_core)}
