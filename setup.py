"""Build of fastnn's native backend: C kernels (csrc/) + a thin Cython binding.

The C sources and the Cython file are compiled into the one extension module
``fastnn.backends._native``; each C file gets its own flags:

* ``csrc/cpu/<level>.c``, one translation unit per CPU level, gets that level's flags
  from ``csrc/cpu/levels.mk`` (AVX2 + FMA, AVX-512, ...); every other file is compiled
  for the baseline x86-64 (or whatever the target is). A level's code runs only after
  the run-time CPU check chose it, so one build runs on any x86-64; ``-march=native``
  is never used. Off x86 only the scalar level is built.
* The bf16 GEMM levels (``FNN_BF16_LEVELS`` in levels.mk: AVX512-BF16, AMX) are built
  like the CPU levels, where the compiler has their ISAs (``csrc/tests/bf16_isa_probe.c``
  builds); ``FASTNN_HAVE_BF16_ISA`` then tells the runtime their tables exist. Without
  them bf16 products run at the portable level.
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
LEVELS_FILE = CSRC / "cpu" / "levels.mk"


def read_levels() -> dict[str, list[str]]:
    """The ``NAME := value`` lines of csrc/cpu/levels.mk (which csrc/tests/Makefile includes)."""
    assignments = {}
    for line in LEVELS_FILE.read_text().splitlines():
        name, assign, value = line.partition(":=")
        if assign and not name.lstrip().startswith("#"):
            assignments[name.strip()] = value.split()
    return assignments


LEVELS = read_levels()
# Each CPU level's own compiler flags (FNN_CFLAGS_<level>).
LEVEL_FLAGS = {
    name.removeprefix("FNN_CFLAGS_"): flags
    for name, flags in LEVELS.items()
    if name.startswith("FNN_CFLAGS_")
}


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


OPENMP_PROBE = (
    "#include <omp.h>\nint main(void){int n=0;\n"
    "#pragma omp parallel reduction(+:n)\nn+=1;\nreturn omp_get_max_threads()>0?0:n;}\n"
)


def compiler_accepts(flags: list[str], program: str = "int main(void){return 0;}\n") -> bool:
    """Whether the C compiler builds and links ``program`` with ``flags``, warning-free."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    cc = cc.split()[0]
    if shutil.which(cc) is None:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "probe.c")
        src.write_text(program)
        result = subprocess.run(
            [cc, "-Werror", *flags, str(src), "-o", str(Path(tmp, "probe"))],
            capture_output=True,
        )
        return result.returncode == 0


def openmp_flags() -> list[str]:
    if env_flag("FASTNN_NO_OPENMP"):
        print("fastnn: FASTNN_NO_OPENMP set: building without OpenMP", file=sys.stderr)
        return []
    if compiler_accepts(["-fopenmp"], OPENMP_PROBE):
        return ["-fopenmp"]
    print("fastnn: the compiler has no OpenMP: building serial kernels", file=sys.stderr)
    return []


def level_of(path: Path) -> str | None:
    """The CPU level a C file is, for csrc/cpu/<level>.c; None for every other file."""
    if path.parent != CSRC / "cpu":
        return None
    if path.stem not in LEVEL_FLAGS:
        sys.exit(f"fastnn: {path} has no FNN_CFLAGS_{path.stem} line in {LEVELS_FILE}")
    return path.stem


OPENMP = openmp_flags()
BF16_LEVELS = LEVELS.get("FNN_BF16_LEVELS", [])
# The last bf16 level's flags include the others' (levels.mk).
HAVE_BF16_ISA = (
    IS_X86
    and bool(BF16_LEVELS)
    and compiler_accepts(
        LEVEL_FLAGS[BF16_LEVELS[-1]], (CSRC / "tests" / "bf16_isa_probe.c").read_text()
    )
)
if IS_X86 and not HAVE_BF16_ISA:
    print(
        "fastnn: the compiler lacks AVX512-BF16/AMX: bf16 runs at the portable level",
        file=sys.stderr,
    )
SANITIZE = (
    ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    if env_flag("FASTNN_SANITIZE")
    else []
)
OPT = ["-O1", "-g"] if SANITIZE else ["-O3"]
# Flags every CPU level's file gets besides its own, where the compiler takes them
# (levels.mk says why).
LEVEL_COMMON = LEVELS.get("FNN_LEVEL_CFLAGS", [])
LEVEL_COMMON = LEVEL_COMMON if compiler_accepts(LEVEL_COMMON) else []


def flags_for(source: str) -> list[str]:
    """Per-file flags: our C gets C99, warnings on and its level's; Cython's output none."""
    path = Path(source)
    if path.parts[:1] != CSRC.parts:
        return []
    level = level_of(path)
    own = [*LEVEL_COMMON, *LEVEL_FLAGS[level]] if level else []
    return ["-std=c99", *WARNINGS, *FP_FLAGS, *own]


def kernel_sources() -> list[str]:
    """Every C file under csrc/ but the C-only test programs; off x86, of the CPU levels
    only the scalar one (the others' flags are x86 flags)."""
    found = []
    for c_file in sorted(CSRC.rglob("*.c")):
        level = level_of(c_file)
        if "tests" in c_file.parts or (level not in (None, "scalar") and not IS_X86):
            continue
        if level in BF16_LEVELS and not HAVE_BF16_ISA:
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
if HAVE_BF16_ISA:
    defines.append(("FASTNN_HAVE_BF16_ISA", "1"))

native = Extension(
    "fastnn.backends._native",
    sources=["fastnn/backends/_native.pyx", *kernel_sources()],
    # Headers, the .inc templates the C files include, and the levels' flags: a change
    # rebuilds the module.
    depends=sorted(p.as_posix() for p in [*CSRC.rglob("*.h"), *CSRC.rglob("*.inc"), LEVELS_FILE]),
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
