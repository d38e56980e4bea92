"""The pytest-benchmark suites: ``python -m pytest bench/`` (``--benchmark-only``,
``--benchmark-group-by=group`` and the other pytest-benchmark options apply).

They are outside ``testpaths``, so the main ``python -m pytest`` run never collects
them. Files named ``bench_*.py`` are collected here besides pytest's usual
``test_*.py``. ``FASTNN_BENCH_THREADS`` sets the native kernels' thread count (default:
fastnn's, all the cores available).

NumPy is measured at its best, as ``fastnn bench`` measures it: the run starts again
without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE where they are set
(fastnn.benchmark.environment), and the header and the saved machine info name the
kernel OpenBLAS chose.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

import fastnn as fn
from fastnn import backends
from fastnn.benchmark import environment, machine

BACKENDS = ["native", "numpy"]


def pytest_collect_file(file_path, parent):
    # a file named on the command line is collected by pytest itself, whatever its name
    named = parent.session.isinitpath(file_path)
    if file_path.suffix == ".py" and file_path.name.startswith("bench_") and not named:
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def pytest_configure(config) -> None:
    if any(name in os.environ for name in environment.OPENBLAS_PINNING):
        # OpenBLAS has read them already (fastnn imported NumPy): start this run again
        # without them, with pytest's output capture undone so the new run can print
        config.pluginmanager.getplugin("capturemanager").stop_global_capturing()
        environment.unpin_openblas()
    threads = os.environ.get("FASTNN_BENCH_THREADS")
    if threads and backends.native_available():
        fn.set_num_threads(int(threads))


def pytest_report_header(config) -> list[str]:
    facts = machine.machine_facts()
    kernels = facts["fastnn"]
    blas = environment.describe_openblas(environment.blas_libraries()) or "not OpenBLAS"
    return [
        f"cpu: {facts['cpu']}; {machine.describe_bf16(facts)}",
        f"fastnn {kernels.get('version')}: SIMD {kernels.get('simd')}, "
        f"OpenMP {kernels.get('openmp')}, threads {kernels.get('threads')}",
        f"NumPy's BLAS: {blas}; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset",
    ]


if importlib.util.find_spec("pytest_benchmark") is not None:  # else no benchmark runs at all

    def pytest_benchmark_update_machine_info(config, machine_info: dict) -> None:
        machine_info["fastnn"] = machine.machine_facts()
        machine_info["blas"] = environment.blas_libraries()


@pytest.fixture(params=BACKENDS)
def backend_name(request) -> str:
    if request.param == "native" and not backends.native_available():
        pytest.skip("the native backend is not built")
    return request.param
