"""The Python benchmarks run (--quick) and report every row that docs/python.md
quotes: each constructor of FixedKind and SharedKind against numpy for 16, 4096 and
10^6 elements, calloc and malloc against bytearray, and the Dask hand-off. Timing
is not checked: only that the figures are there and positive."""

import json
import os
import subprocess
import sys

import pytest

def _run(script, tmp_path, *args):
    out = tmp_path / "figures.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    run = subprocess.run([sys.executable, script, *args, "--json", str(out)],
                         env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr
    with open(out) as f:
        return json.load(f), run.stdout


def test_python_bench_reports_every_row(tmp_path, repo_file):
    pytest.importorskip("numpy")
    doc, stdout = _run(repo_file("bench", "python_bench.py"), tmp_path, "--quick", "--reps", "1")
    assert "skipped" not in doc, doc
    ratios = doc["ratios"]
    for kind in ("fixed", "shared"):
        for name in ("empty", "zeros", "full", "array"):
            for count in (16, 4096, 10**6):
                assert ratios[f"{kind}.{name}.{count}/numpy"] > 0
    for row in ("calloc/bytearray", "malloc/bytearray", "handler.zeros16/numpy"):
        assert ratios[row] > 0
    assert "ratio calloc/bytearray" in stdout


def test_python_dask_bench_runs(tmp_path, repo_file):
    pytest.importorskip("distributed")
    doc, stdout = _run(repo_file("bench", "python_dask_bench.py"), tmp_path,
                       "--quick", "--mib", "4")
    assert "skipped" not in doc, doc
    assert set(doc["median"]) == {"shared", "numpy", "floor"}
    assert all(t > 0 for t in doc["median"].values())
    assert "ratio numpy / SharedKind" in stdout
