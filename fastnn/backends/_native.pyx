# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""fastnn's native backend: thin Cython over the C kernels of csrc/.

Each entry point checks its arrays once (dtype, contiguity, shapes), takes raw
pointers, and calls C with the GIL released. The parts live in .pxi files, one per job.
"""

include "_native_runtime.pxi"
include "_native_bf16.pxi"
include "_native_gemm.pxi"
include "_native_net.pxi"
