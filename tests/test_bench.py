"""``fastnn bench``: the harness runs end to end on fastnn's two backends (no torch or
jax needed) and prints the table with every workload's rows; its pieces parse and
format as documented."""

from __future__ import annotations

import json

import pytest

from fastnn import cli
from fastnn.benchmark import peers, report, runner, workloads

ROW_TITLES = [
    "W1 784-256-128-10 b128 SGD-mom",
    "W1 784-256-128-10 b128 Adam",
    "W2 784-2048-2048-10 b512 Adam",
    "W3 predict 1 sample",
    "W3 predict 10,000",
    "W4 sgemm 1024³",
    "W5 speed-up, W1 SGD-mom",
    "W5 speed-up, W1 Adam",
]


def test_fastnn_bench_quick_prints_every_workload(capsys, tmp_path):
    out_json = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--peers", "fastnn-native,fastnn-numpy", "--data", "random"]
    argv += ["--samples", "256", "--rounds", "1", "--threads", "1,2", "--json", str(out_json)]
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    table = [line for line in text.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert header == ["workload", "threads", "unit", "fastnn native", "fastnn numpy"]
    for title in ROW_TITLES:
        assert any(line.startswith(f"| {title} |") for line in table), title
    assert "fastnn native vs each peer" in text
    assert "random data of Fashion-MNIST's shapes" in text
    saved = json.loads(out_json.read_text())
    measured = {(c["task"], c["threads"], c["peer"]) for c in saved["cells"] if c["values"]}
    assert ("W1-sgd", 1, "fastnn-numpy") in measured
    assert ("W3-1", 2, "fastnn-numpy") in measured
    # --quick measures its costliest task, W2, at the most threads only
    assert ("W2", 2, "fastnn-native") in measured
    assert not any(task == "W2" and threads == 1 for task, threads, _ in measured)
    assert not any(line.startswith("| W2 784-2048-2048-10 b512 Adam | 1 |") for line in table)


def test_bench_rejects_unknown_names(capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "--workloads", "W1,W9"])
    assert "W9" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["bench", "--peers", "tensorflow"])


def test_parsers_keep_table_order():
    assert workloads.parse_workloads("w3, W1") == ("W3", "W1")
    assert peers.parse_peers("torch,fastnn-native") == ("fastnn-native", "torch")
    # W5 is derived from W1's measurements, so asking for it runs W1
    assert {t.workload for t in workloads.tasks_for(("W5",))} == {"W1"}


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
