"""Build of fastnn's native backend: C kernels (csrc/) + a thin Cython binding.

The C sources and the Cython file are compiled into the one extension module
``fastnn.backends._native``; each C file gets its own flags:

* ``*_avx512.c`` files are compiled for AVX-512 (F, DQ, BW, VL) + FMA, ``*_avx2.c``
  for AVX2 + FMA, ``*_avx512bf16.c`` for AVX-512 + AVX512-BF16 and ``*_amx.c`` for that
  + AMX (tile, bf16), every other file for the baseline x86-64 (or whatever the target
  is). The last two (the bf16 kernels) are built only where the compiler has those
  ISAs (probed), and ``FASTNN_HAVE_BF16_ISA`` then tells the driver they exist.
  Code in the ISA files runs only after the run-time CPU check chose it, so one build
  runs on any x86-64; ``-march=native`` is never used.
* OpenMP is used when the compiler accepts ``-fopenmp`` (probed by compiling a tiny
  program) unless ``FASTNN_NO_OPENMP=1``; otherwise the build is serial.
* ``FASTNN_SANITIZE=1`` builds with AddressSanitizer + UBSan (for the sanitizer run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).parent.resolve()
CSRC = Path("csrc")
IS_X86 = sysconfig.get_platform().endswith(("x86_64", "amd64", "i686", "win32"))
WARNINGS = ["-Wall", "-Wextra"]
# Our C never reads errno or the floating-point exception flags. Without these two, gcc
# keeps a scalar libm call beside every sqrt (to set errno) and will not turn a select
# whose arms compute something into a vector blend (a spurious FP exception): the
# elementwise loops (activations, optimizer) would stay scalar. Values are unchanged.
FP_FLAGS = ["-fno-math-errno", "-fno-trapping-math"]
AVX512 = ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx2", "-mfma"]
ISA_FLAGS = {
    "avx512": AVX512,
    "avx2": ["-mavx2", "-mfma"],
    "avx512bf16": [*AVX512, "-mavx512bf16"],
    "amx": [*AVX512, "-mavx512bf16", "-mamx-tile", "-mamx-bf16"],
}
BF16_ISAS = ("avx512bf16", "amx")
# What the bf16 ISA files need from the compiler: their intrinsics and the CPU checks.
BF16_PROBE = """#include <immintrin.h>
int main(void) {
    __builtin_cpu_init();
    int ok = __builtin_cpu_supports("avx512bf16") + __builtin_cpu_supports("amx-bf16")
             + __builtin_cpu_supports("amx-tile");
    __m512 acc = _mm512_dpbf16_ps(_mm512_setzero_ps(), (__m512bh)_mm512_set1_epi32(ok),
                                  (__m512bh)_mm512_set1_epi32(1));
    if (ok > 3) { _tile_zero(0); _tile_dpbf16ps(0, 1, 2); _tile_release(); }
    return (int)_mm512_reduce_add_ps(acc) == 12345;
}
"""


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def compiler_accepts(flags: list[str]) -> bool:
    """Whether the C compiler builds and links a tiny OpenMP program with ``flags``."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    cc = cc.split()[0]
    if shutil.which(cc) is None:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "probe.c")
        src.write_text(
            "#include <omp.h>\nint main(void){int n=0;\n"
            "#pragma omp parallel reduction(+:n)\nn+=1;\nreturn omp_get_max_threads()>0?0:n;}\n"
        )
        result = subprocess.run(
            [cc, *flags, str(src), "-o", str(Path(tmp, "probe"))],
            capture_output=True,
        )
        return result.returncode == 0


def compiler_builds(source: str, flags: list[str]) -> bool:
    """Whether the C compiler compiles and links ``source`` with ``flags``."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    cc = cc.split()[0]
    if shutil.which(cc) is None:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "probe.c").write_text(source)
        command = [cc, *flags, str(Path(tmp, "probe.c")), "-o", str(Path(tmp, "probe"))]
        return subprocess.run(command, capture_output=True).returncode == 0


def bf16_isa_available() -> bool:
    if not IS_X86:
        return False
    if compiler_builds(BF16_PROBE, ISA_FLAGS["amx"]):
        return True
    print(
        "fastnn: the compiler lacks AVX512-BF16/AMX: bf16 runs at the portable level",
        file=sys.stderr,
    )
    return False


def openmp_flags() -> list[str]:
    if env_flag("FASTNN_NO_OPENMP"):
        print("fastnn: FASTNN_NO_OPENMP set: building without OpenMP", file=sys.stderr)
        return []
    if compiler_accepts(["-fopenmp"]):
        return ["-fopenmp"]
    print("fastnn: the compiler has no OpenMP: building serial kernels", file=sys.stderr)
    return []


def isa_of(path: Path) -> str:
    for isa in ISA_FLAGS:
        if path.stem.endswith("_" + isa):
            return isa
    return "base"


OPENMP = openmp_flags()
HAVE_BF16_ISA = bf16_isa_available()
SANITIZE = (
    ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    if env_flag("FASTNN_SANITIZE")
    else []
)
OPT = ["-O1", "-g"] if SANITIZE else ["-O3"]


def flags_for(source: str) -> list[str]:
    """Per-file flags: our C gets C99, warnings on and its ISA; Cython's output gets none."""
    path = Path(source)
    if CSRC.as_posix() not in path.as_posix():
        return []
    flags = ["-std=c99", *WARNINGS, *FP_FLAGS]
    isa = isa_of(path)
    if isa != "base":
        flags += ISA_FLAGS[isa]
    return flags


def kernel_sources() -> list[str]:
    """Every C file under csrc/ but the C-only test programs; ISA files only on x86."""
    found = []
    for c_file in sorted(CSRC.rglob("*.c")):
        if "tests" in c_file.parts or (isa_of(c_file) != "base" and not IS_X86):
            continue
        if isa_of(c_file) in BF16_ISAS and not HAVE_BF16_ISA:
            continue
        found.append(c_file.as_posix())
    return found


class BuildExt(build_ext):
    """build_ext that gives each source its own flags (see flags_for) and builds in parallel."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self) -> None:
        compile_one = self.compiler._compile

        def compile_with_own_flags(obj, src, ext, cc_args, extra_postargs, pp_opts):
            compile_one(obj, src, ext, cc_args, [*extra_postargs, *flags_for(src)], pp_opts)

        self.compiler._compile = compile_with_own_flags
        super().build_extensions()


defines = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
if OPENMP:
    defines.append(("FASTNN_HAVE_OPENMP", "1"))
if IS_X86:
    defines.append(("FASTNN_X86", "1"))
if HAVE_BF16_ISA:
    defines.append(("FASTNN_HAVE_BF16_ISA", "1"))

native = Extension(
    "fastnn.backends._native",
    sources=["fastnn/backends/_native.pyx", *kernel_sources()],
    # Headers and the .inc templates the C files include: a change rebuilds the module.
    depends=sorted(p.as_posix() for p in [*CSRC.rglob("*.h"), *CSRC.rglob("*.inc")]),
    include_dirs=[CSRC.as_posix(), np.get_include()],
    define_macros=defines,
    extra_compile_args=[*OPT, *OPENMP, *SANITIZE],
    extra_link_args=[*OPENMP, *SANITIZE],
    libraries=["m"],
)

setup(
    cmdclass={"build_ext": BuildExt},
    ext_modules=cythonize(
        [native],
        compiler_directives={"language_level": "3", "embedsignature": True},
        annotate=env_flag("FASTNN_ANNOTATE"),
    ),
)
