# levels.mk - the CPU levels fastnn is built for, and each one's compiler flags: the one
# list that setup.py and csrc/tests/Makefile build from (make syntax; setup.py reads the
# same lines). Each level is one translation unit, csrc/cpu/<level>.c, compiled with
# FNN_CFLAGS_<level> and nothing else; every other file gets the baseline flags. scalar
# is built for every target, the other levels only for x86 (their flags are x86 flags).
# Never -march=native: the level is chosen at run time (runtime/runtime.c), so one build
# runs on any x86-64. Adding a level: docs/architecture.md, "Add a CPU level".

# The SIMD levels, lowest first: enum fnn_simd (fastnn.h), runtime.c's table of tables and
# SIMD_LEVELS in fastnn/backends/_native_runtime.pxi list them in this order.
FNN_SIMD_LEVELS := scalar avx2 avx512

# Each level's file also gets FNN_LEVEL_CFLAGS, where the compiler takes them (gcc). A level's
# one file holds what per-file compilation spread over up to seven, and gcc's budget for
# cloning functions on constant arguments (ipa-cp-unit-growth, 10 % of a unit with a floor)
# is per translation unit: at 10 % the AVX-512 float kernels lost the per-row-count clones
# of their out-of-line tile store, calling a generic 7-argument one instead (a stack
# argument, so a realigned frame through a DRAP register in every kernel). At 20 % the
# object code is, register names aside, that of per-file compilation.
FNN_LEVEL_CFLAGS := --param=ipa-cp-unit-growth=20

FNN_CFLAGS_scalar :=
FNN_CFLAGS_avx2 := -mavx2 -mfma
FNN_CFLAGS_avx512 := -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma

# The bf16 GEMM levels (csrc/gemm/gemm_bf16.c), a second axis chosen apart from the SIMD
# level: a CPU can have AVX-512 without BF16, and AMX needs the OS's tile permission.
# Above the portable level (no file: the float GEMM of the SIMD level on bf16-rounded
# copies), lowest first: enum fnn_bf16 (fastnn.h), runtime.c's bf16 tables and
# BF16_LEVELS in fastnn/backends/_native_bf16.pxi list them in this order. Built only
# where the compiler takes their flags (setup.py and the Makefile probe them; without
# them, bf16 runs at the portable level).
FNN_BF16_LEVELS := avx512_bf16 amx

FNN_CFLAGS_avx512_bf16 := -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma -mavx512bf16
FNN_CFLAGS_amx := -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma -mavx512bf16 -mamx-tile -mamx-bf16
