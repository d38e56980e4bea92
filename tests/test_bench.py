"""``fastnn bench``: the harness runs end to end on fastnn's two backends (no torch or
jax needed) and prints the table with every workload's rows; the bf16 and int8 peers
run where their libraries are; its pieces parse, count and format as documented."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fastnn import cli
from fastnn.benchmark import environment, machine, peers, report, runner, workloads
from fastnn.benchmark.peers import fastnn_peer

ROW_TITLES = [
    "W1 784-256-128-10 b128 SGD-mom",
    "W1 784-256-128-10 b128 Adam",
    "W2 784-2048-2048-10 b512 Adam",
    "W3 predict 1 sample",
    "W3 predict 10,000",
    "W4 sgemm 1024³",
    "W5 speed-up, W1 SGD-mom",
    "W5 speed-up, W1 Adam",
    "W6 784-64-10 b128 Adam",
    "W6 784-1024-10 b128 Adam",
]


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ")]


def header_of(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_fastnn_bench_quick_prints_every_workload(capsys, tmp_path):
    out_json = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--peers", "fastnn-native,fastnn-bf16,fastnn-numpy"]
    argv += ["--data", "random", "--samples", "256", "--rounds", "1", "--threads", "1,2"]
    assert cli.main([*argv, "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    table = table_lines(text)
    columns = ["workload", "threads", "unit", "fastnn native", "fastnn bf16", "fastnn numpy"]
    assert header_of(table[0]) == columns
    for title in ROW_TITLES:
        assert any(line.startswith(f"| {title} |") for line in table), title
    # --quick keeps W6's narrow end and its first target width only
    assert not any(line.startswith(("| W6 784-256-10", "| W6 784-4096-10")) for line in table)
    assert "fastnn native vs each peer" in text
    assert "random data of Fashion-MNIST's shapes" in text
    assert "- CPU bf16 / AMX: avx512_bf16 " in text
    saved = json.loads(out_json.read_text())
    measured = {(c["task"], c["threads"], c["peer"]) for c in saved["cells"] if c["values"]}
    assert ("W1-sgd", 1, "fastnn-numpy") in measured
    assert ("W3-1", 2, "fastnn-numpy") in measured
    assert ("W6-64", 1, "fastnn-native") in measured
    assert ("W6-1024", 2, "fastnn-numpy") in measured
    # --quick measures its costliest task, W2, at the most threads only
    assert ("W2", 2, "fastnn-native") in measured
    assert not any(task == "W2" and threads == 1 for task, threads, _ in measured)
    assert not any(line.startswith("| W2 784-2048-2048-10 b512 Adam | 1 |") for line in table)
    # the bf16 column: measured where this fastnn has the switch, else a note says why
    if fastnn_peer.precision_switch() is None:
        assert "- fastnn bf16: skipped: this fastnn" in text
        assert "has no bf16 switch" in text
    else:
        assert ("W1-adam", 1, "fastnn-bf16") in measured
        assert "### fastnn bf16 vs each peer" in text
    # training throughput as a share of the FMA peak, where the peak could be measured
    if all(saved["fma_peak"].values()):
        shared = {(s["task"], s["threads"], s["peer"]) for s in saved["peak_shares"]}
        assert ("W6-64", 1, "fastnn-native") in shared and ("W4", 2, "fastnn-native") in shared
        start = text.index("### Share of the measured fp32 FMA peak")
        shares = table_lines(text[start:])
        assert header_of(shares[0])[:4] == ["workload", "threads", "peak GFLOP/s", "fastnn native"]
        assert any(line.startswith("| W6 784-1024-10 b128 Adam | 2 |") for line in shares)


def test_bf16_and_int8_peers_run_where_installed(capsys):
    """PyTorch bf16 (named, so measured even where it is emulated) trains and predicts;
    onnxruntime's int8 model predicts; without the libraries each is a note."""
    argv = ["bench", "--quick", "--workloads", "W1,W3", "--peers", "torch-bf16,onnxruntime-int8"]
    argv += ["--data", "random", "--samples", "256", "--rounds", "1", "--threads", "1"]
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    table = table_lines(text)
    assert header_of(table[0])[3:] == ["PyTorch bf16", "onnxruntime int8"]
    rows = {header_of(line)[0]: header_of(line)[3:] for line in table[2:] if "W" in line}
    if importlib.util.find_spec("torch") is not None:
        assert "oneDNN bf16 kernels" in text
        for title in ("W1 784-256-128-10 b128 Adam", "W3 predict 1 sample"):
            assert rows[title][0] != "—", title
    else:
        assert "- PyTorch bf16: skipped:" in text
    if importlib.util.find_spec("onnxruntime") is not None:
        assert rows["W3 predict 10,000"][1] != "—"
        assert "- onnxruntime int8: W1 skipped: inference only" in text
    else:
        assert "- onnxruntime int8: skipped:" in text


def test_int8_model_is_quantized_and_close_to_fp32():
    try:
        from fastnn.benchmark.peers import onnx_peer
    except peers.Unavailable as why:
        pytest.skip(f"onnx / onnxruntime are not installed: {why}")
    import onnx

    from fastnn.benchmark.data import initial_weights

    weights = initial_weights((784, 64, 10))
    fp32, int8 = onnx_peer.OnnxPeer(1), onnx_peer.OnnxPeer(1, quantization="int8")
    ops = {node.op_type for node in onnx.load_from_string(int8.model(weights)).graph.node}
    assert "Gemm" not in ops and ops & {"MatMulInteger", "DynamicQuantizeMatMul"}, ops
    x = np.random.default_rng(0).random((50, 784), dtype=np.float32)
    expected, got = fp32.predictor(weights)(x), int8.predictor(weights)(x)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-5)
    assert np.abs(got - expected).max() < 0.05


def test_unpin_openblas_restarts_the_process_without_the_pinning():
    code = (
        "import os, numpy\n"
        "from fastnn.benchmark import environment\n"
        "environment.unpin_openblas()\n"
        "print([name for name in environment.OPENBLAS_PINNING if name in os.environ])\n"
    )
    env = {**os.environ, "OPENBLAS_CORETYPE": "Prescott", "OPENBLAS_L2_SIZE": "100000"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_worker_environment_unpins_openblas_and_limits_threads(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Prescott")
    env = environment.worker_environment(3)
    assert "OPENBLAS_CORETYPE" not in env
    assert {env[name] for name in environment.THREAD_VARIABLES} == {"3"}
    libraries = [{"internal_api": "openblas", "version": "0.3.31", "architecture": "Haswell"}]
    assert environment.describe_openblas(libraries) == "OpenBLAS 0.3.31 kernel Haswell"


def test_bf16_capabilities_come_from_cpuinfo():
    cpuinfo = "model name\t: Some Xeon\nflags\t\t: fpu avx2 fma avx512f avx512_bf16 amx_tile\n"
    flags = machine.cpu_flags(cpuinfo)
    assert machine.cpu_model(cpuinfo) == "Some Xeon"
    assert flags["avx512_bf16"] and flags["amx_tile"] and not flags["amx_bf16"]
    line = machine.describe_bf16({"cpu_flags": flags, "fastnn": {"bf16": {"bf16": "amx"}}})
    assert line.startswith("CPU bf16 / AMX: avx512_bf16 yes, amx_tile yes, amx_bf16 no;")
    assert line.endswith("fastnn: bf16 amx")


def test_bench_rejects_unknown_names(capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "--workloads", "W1,W9"])
    assert "W9" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["bench", "--peers", "tensorflow"])


def test_parsers_keep_table_order():
    assert workloads.parse_workloads("w6, W1") == ("W6", "W1")
    assert peers.parse_peers("torch-bf16,torch,fastnn-native") == (
        "fastnn-native",
        "torch",
        "torch-bf16",
    )
    # W5 is derived from W1's measurements, so asking for it runs W1
    assert {t.workload for t in workloads.tasks_for(("W5",))} == {"W1"}
    assert [t.key for t in workloads.tasks_for(("W6",))] == [
        "W6-64",
        "W6-256",
        "W6-1024",
        "W6-4096",
    ]


def test_training_flops_leave_out_the_input_gradient():
    # 784-W-10: forward and dW of both layers, dX of the second only
    arch = workloads.TASK_BY_KEY["W6-1024"].arch
    assert arch.train_flops_per_sample() == 2 * (2 * 784 * 1024 + 3 * 1024 * 10)
    w2 = workloads.TASK_BY_KEY["W2"]
    assert workloads.gflops(w2, 1000.0) == pytest.approx(31.71, abs=0.01)
    assert workloads.gflops(workloads.TASK_BY_KEY["W4"], 90.0) == 90.0
    assert workloads.gflops(workloads.TASK_BY_KEY["W3-1"], 20.0) is None


def test_peak_share_is_the_median_rate_over_the_peak_of_that_thread_count():
    results = runner.Results()
    results.cell("W6-1024", 2, "jax").values = [1000.0, 2000.0, 3000.0]
    results.cell("W4", 1, "numpy").values = [50.0]
    results.cell("W1-sgd", 1, "numpy").values = [0.5]  # not a throughput: left out
    peaks = {1: {"total": 100.0}, 2: {"total": 200.0}}
    shares = report.peak_shares(results, peaks)
    rate = 2000.0 * workloads.TASK_BY_KEY["W6-1024"].arch.train_flops_per_sample() / 1e9
    expected = {("W6-1024", 2): {"jax": pytest.approx(rate / 200.0)}, ("W4", 1): {"numpy": 0.5}}
    assert shares == expected


def test_report_compares_fastnn_bf16_with_every_peer():
    results = runner.Results()
    results.cell("W2", 2, "fastnn-native").values = [5000.0]
    results.cell("W2", 2, "fastnn-bf16").values = [8000.0]
    results.cell("W2", 2, "torch-bf16").values = [4000.0]
    results.cell("W3-10k", 2, "fastnn-bf16").values = [10.0]
    results.cell("W3-10k", 2, "onnxruntime-int8").values = [20.0]
    meta = {
        "date": "today",
        "command": "fastnn bench",
        "machine": {
            "cpu": "Some Xeon",
            "cpu_flags": {"avx512_bf16": True, "amx_tile": True, "amx_bf16": True},
            "cores_available": 2,
            "cores_online": 2,
            "fastnn": {"version": "0", "simd": "avx512", "openmp": True, "bf16": {}},
        },
        "data": "random",
        "train_rows": 60000,
        "settings": {"rounds": 1, "throughput_steps": 10, "sweep_gflop": 25.0},
        "fma_peak": {2: {"total": 400.0, "isa": "avx512"}},
    }
    tasks = [workloads.TASK_BY_KEY[key] for key in ("W2", "W3-10k")]
    rows = report.rows(results, tasks, [2], ("W2", "W3"))
    names = ["fastnn-native", "fastnn-bf16", "torch-bf16", "onnxruntime-int8"]
    text = report.markdown(results, meta, rows, names)
    start = text.index("### fastnn bf16 vs each peer")
    bf16 = table_lines(text[start:])
    assert header_of(bf16[0]) == ["workload", "threads", "fastnn native", "PyTorch bf16",
                                  "onnxruntime int8"]  # fmt: skip
    assert header_of(bf16[1])[2:4] == ["1.60×", "2.00×"]  # W2: 8000 / 5000, 8000 / 4000
    assert header_of(bf16[2])[4] == "2.00×"  # W3 10,000: 20 ms / 10 ms
    assert "- CPU bf16 / AMX: avx512_bf16 yes, amx_tile yes, amx_bf16 yes;" in text


def test_scaling_is_time_at_one_thread_over_time_at_the_most():
    results = runner.Results()
    results.cell("W1-sgd", 1, "numpy").values = [0.4, 0.5, 0.6]
    results.cell("W1-sgd", 2, "numpy").values = [0.25, 0.3]
    (sgd, _adam) = report.scaling_rows(results, [1, 2])
    assert sgd.values["numpy"] == [pytest.approx(0.5 / 0.275)]
    assert report.scaling_rows(results, [2]) == []


@pytest.mark.parametrize(
    "value, text", [(6600.4, "6,600"), (235.2, "235"), (19.34, "19.3"), (1.234, "1.23")]
)
def test_numbers_are_printed_to_three_digits(value, text):
    assert report.fmt(value) == text
