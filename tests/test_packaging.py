"""Packaging: the sdist and wheel build, carry what they must, install and run elsewhere.

One slow test: ``python -m build --no-isolation`` on a copy of the source tree (the wheel
is built from the sdist, so the sdist is proven complete), the wheel installed into a
fresh virtual environment, the sdist built and installed into another, and a smoke test
run in each: ``fastnn info``, training a tiny model, the embedded data, and the native
backend whenever this checkout has it. NumPy (and the build tools, for the sdist) come
from this interpreter through ``--system-site-packages``: no network is needed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

from fastnn import backends

ROOT = Path(__file__).resolve().parents[1]
BUILD_TOOLS = ("build", "setuptools", "Cython", "numpy")
NOT_SOURCE = ("build", "dist", ".git", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis",
              "*.so", "*.o", ".venv", "venv", ".benchmarks")  # fmt: skip

SMOKE = """
import json, numpy as np, fastnn as fn
X = np.random.default_rng(0).normal(size=(128, 4)).astype("float32")
y = (X[:, 0] + X[:, 1] > 0).astype("int64")
model = fn.Model([fn.Dense(16, "relu"), fn.Dense(2, "softmax")], seed=0)
model.compile("cross_entropy", fn.optimizers.Adam(0.01), metrics=["accuracy"])
history = model.fit(X, y, epochs=30, batch_size=16, verbose=0)
(X_digits, _), _ = fn.datasets.load_default()
print(json.dumps({
    "file": fn.__file__,
    "accuracy": history.history["accuracy"][-1],
    "digits": X_digits.shape[0],
    "native": fn.info()["native_available"],
}))
"""


def _run(command: list, cwd: Path) -> subprocess.CompletedProcess:
    # without PYTHONPATH: a checkout on it (as in development) would shadow the copy
    # installed in the fresh venv, which is what this test is about
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


def _fresh_venv(folder: Path) -> Path:
    """A venv that sees the packages of the environment running the tests, after its own.

    Not ``system_site_packages``: that exposes the base interpreter's site-packages, not
    the (virtual) environment pytest runs in, whose setuptools the build needs (a base
    interpreter may carry one too old for pyproject's licence expression). Nor its own
    pip: ensurepip would bring an old setuptools that shadows ours.
    """
    venv.EnvBuilder(with_pip=False).create(folder)
    bin_dir = folder / ("Scripts" if os.name == "nt" else "bin")
    ask_purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    inner = subprocess.run(
        [str(bin_dir / "python"), "-c", ask_purelib], capture_output=True, text=True, check=True
    ).stdout.strip()
    outer = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    Path(inner, "_outer_environment.pth").write_text("".join(f"{path}\n" for path in outer))
    return bin_dir


def _smoke(bin_dir: Path, cwd: Path) -> None:
    """fastnn, as installed in that environment, works and is the installed copy."""
    assert "version" in _run([bin_dir / "fastnn", "info"], cwd).stdout
    facts = json.loads(_run([bin_dir / "python", "-c", SMOKE], cwd).stdout)
    assert Path(facts["file"]).resolve().is_relative_to(bin_dir.parent.resolve())
    assert facts["accuracy"] > 0.9 and facts["digits"] == 1437
    assert facts["native"] == backends.native_available(), (
        "the installed package's native backend differs from this checkout's"
    )


@pytest.mark.slow
def test_sdist_and_wheel_build_install_and_run(tmp_path):
    missing = [name for name in BUILD_TOOLS if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"building needs {', '.join(missing)} (the test extra installs them)")
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    dist = tmp_path / "dist"
    built = _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", dist], source)
    assert "-march=native" not in built.stdout + built.stderr  # one wheel for every x86-64
    (sdist,) = dist.glob("fastnn-*.tar.gz")
    (wheel,) = dist.glob("fastnn-*.whl")

    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("LICENSE", "README.md", "setup.py", "csrc/fastnn.h",
                   "fastnn/backends/_native.pyx", "fastnn/backends/_fastnn.pxd",
                   "fastnn/backends/_native_net.pxi", "fastnn/datasets/data/digits.npz",
                   "fastnn/datasets/data/README.md",
                   "fastnn/playground/static/index.html"):  # fmt: skip
        assert needed in in_sdist, needed
    for c_source in Path(ROOT, "csrc").rglob("*"):
        if c_source.suffix in (".c", ".h", ".inc", ".mk"):
            assert c_source.relative_to(ROOT).as_posix() in in_sdist
    assert not any(name.endswith((".so", ".o")) for name in in_sdist)

    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    assert "fastnn/datasets/data/digits.npz" in in_wheel
    for page in ("index.html", "playground.js", "playground.css"):  # the playground's page
        assert f"fastnn/playground/static/{page}" in in_wheel
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in in_wheel)
    assert not any(name.startswith(("tests/", "examples/", "csrc/")) for name in in_wheel)

    wheel_bin = _fresh_venv(tmp_path / "venv-wheel")
    _run([wheel_bin / "python", "-m", "pip", "install", "--no-deps", "--no-index", wheel], tmp_path)
    _smoke(wheel_bin, tmp_path)

    sdist_bin = _fresh_venv(tmp_path / "venv-sdist")
    install = [sdist_bin / "python", "-m", "pip", "install", "--no-deps", "--no-index"]
    _run([*install, "--no-build-isolation", sdist], tmp_path)
    _smoke(sdist_bin, tmp_path)
