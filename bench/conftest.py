"""The pytest-benchmark suites: ``python -m pytest bench/`` (``--benchmark-only``,
``--benchmark-group-by=group`` and the other pytest-benchmark options apply).

They are outside ``testpaths``, so the main ``python -m pytest`` run never collects
them. Files named ``bench_*.py`` are collected here besides pytest's usual
``test_*.py``. ``FASTNN_BENCH_THREADS`` sets the native kernels' thread count (default:
fastnn's, all the cores available).
"""

from __future__ import annotations

import os

import pytest

import fastnn as fn
from fastnn import backends

BACKENDS = ["native", "numpy"]


def pytest_collect_file(file_path, parent):
    # a file named on the command line is collected by pytest itself, whatever its name
    named = parent.session.isinitpath(file_path)
    if file_path.suffix == ".py" and file_path.name.startswith("bench_") and not named:
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def pytest_configure(config) -> None:
    threads = os.environ.get("FASTNN_BENCH_THREADS")
    if threads and backends.native_available():
        fn.set_num_threads(int(threads))


@pytest.fixture(params=BACKENDS)
def backend_name(request) -> str:
    if request.param == "native" and not backends.native_available():
        pytest.skip("the native backend is not built")
    return request.param
