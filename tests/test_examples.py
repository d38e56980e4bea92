"""Every script in examples/ runs in fast mode and says what it should.

The scripts run as users run them (a subprocess each, FASTNN_EXAMPLES_FAST=1), a few at
a time, in one module-scoped fixture; each test then checks one script's result.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

# script -> (modules it needs, extra command-line arguments, text its output must hold)
CASES = {
    "worked_examples": ((), [], ["1. one ReLU neuron: 1.25", "w after one SGD step: 3.4"]),
    "xor": (("matplotlib",), ["{tmp}/xor.png"], ["XOR: training accuracy 1.000"]),
    "spiral": (("matplotlib",), ["{tmp}/spiral.png"], ["spiral: training accuracy"]),
    "fashion_mnist": ((), [], ["test accuracy"]),
    "transfer_learning": ((), [], ["frozen features + new head", "from scratch"]),
    "native_vs_numpy": ((), [], []),
    "sklearn_pipeline": (("sklearn",), [], ["best parameters", "test accuracy"]),
    "onnx_export": (("onnx", "onnxruntime"), ["{tmp}/digits.onnx"], ["largest difference"]),
    "distributed_mpi": (("mpi4py",), [], ["1 rank(s): training loss", "test accuracy"]),
    "dask_sweep": (("distributed", "sklearn"), [], ["best parameters", "test accuracy"]),
}


def _missing(modules) -> list[str]:
    return [name for name in modules if importlib.util.find_spec(name) is None]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("examples")
    # Several scripts run at once: one thread each (BLAS threads that outnumber the cores
    # spin and make NumPy's small products tens of times slower).
    single = dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), "1")
    env = {**os.environ, **single, "FASTNN_EXAMPLES_FAST": "1", "PYTHONPATH": str(ROOT)}

    def run(name: str) -> subprocess.CompletedProcess:
        _, arguments, _ = CASES[name]
        command = [sys.executable, str(EXAMPLES / f"{name}.py")]
        command += [argument.format(tmp=tmp) for argument in arguments]
        return subprocess.run(
            command, cwd=tmp, env=env, capture_output=True, text=True, timeout=300
        )

    runnable = [name for name, (needs, _, _) in CASES.items() if not _missing(needs)]
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        return dict(zip(runnable, pool.map(run, runnable))), tmp


def test_every_example_is_tested():
    assert {path.stem for path in EXAMPLES.glob("*.py")} == set(CASES)


@pytest.mark.parametrize("name", list(CASES))
def test_example_runs_in_fast_mode(results, name):
    needs, _, expected = CASES[name]
    if _missing(needs):
        pytest.skip(f"needs {', '.join(_missing(needs))}")
    done, tmp = results
    result = done[name]
    assert result.returncode == 0, result.stdout + result.stderr
    for text in expected:
        assert text in result.stdout, result.stdout
    if name in ("xor", "spiral"):
        assert (tmp / f"{name}.png").stat().st_size > 10_000


@pytest.mark.parametrize("name", list(CASES))
def test_example_has_a_docstring_and_a_fast_flag(name):
    source = (EXAMPLES / f"{name}.py").read_text()
    assert source.startswith('"""') and "--fast" in source


def _run_without(module: str, name: str, tmp_path) -> subprocess.CompletedProcess:
    """Run an example with `module` unimportable, as where its extra is not installed."""
    path = str(EXAMPLES / f"{name}.py")
    script = (
        f"import runpy, sys; sys.modules[{module!r}] = None; sys.argv = [{path!r}, '--fast']\n"
        f"runpy.run_path({path!r}, run_name='__main__')"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_plotting_examples_train_without_matplotlib_and_say_so(tmp_path):
    result = _run_without("matplotlib", "xor", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "XOR: training accuracy 1.000" in result.stdout
    assert "no pictures: they need matplotlib (pip install 'fastnn[plot]')" in result.stdout


@pytest.mark.parametrize(
    ("name", "module", "command"),
    [
        ("onnx_export", "onnxruntime", "pip install 'fastnn[onnx]' onnxruntime"),
        ("sklearn_pipeline", "sklearn", "pip install 'fastnn[sklearn]'"),
    ],
)
def test_an_example_without_its_extra_says_what_to_install(name, module, command, tmp_path):
    result = _run_without(module, name, tmp_path)
    assert result.returncode == 1
    assert command in result.stderr and "Traceback" not in result.stderr, result.stderr
