# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""fastnn's native backend: thin Cython over the C kernels of csrc/.

Each entry point checks its arguments once (dtype, contiguity, alignment, shapes), takes
raw pointers, and calls C with the GIL released. The parts live in .pxi files, one per
job:

    _native_checks.pxi    the argument checks every entry point shares
    _native_dispatch.pxi  one wrapper per C kernel over its float / double twins
    _native_runtime.pxi   SIMD level and thread count
    _native_bf16.pxi      the bf16 level, and the bf16 rounding kernels
    _native_gemm.pxi      the GEMM with its epilogues
    _native_net.pxi       the network's C description and workspace; whole-net passes
    _native_optim.pxi     the optimizer step and the gradient norm
    _native_session.pxi   TrainSession: one fit's training state, one C call per batch
    _native_kernels.pxi   the single kernels, for the cross-checks against reference.py
"""

cimport numpy as cnp
import numpy as np

from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t, uintptr_t
from libc.stdlib cimport free, malloc

from ._fastnn cimport *

cnp.import_array()

include "_native_checks.pxi"
include "_native_dispatch.pxi"
include "_native_runtime.pxi"
include "_native_bf16.pxi"
include "_native_gemm.pxi"
include "_native_net.pxi"
include "_native_optim.pxi"
include "_native_session.pxi"
include "_native_kernels.pxi"
