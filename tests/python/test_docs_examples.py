"""The Python example of docs/shared.md runs as printed, in its own process (its
ProcessPoolExecutor spawns workers that import memkind_fixed), prints the sum its
arrays hold, and leaves nothing in /dev/shm; so does the Dask example of
docs/python.md (a LocalCluster of two worker processes on 127.0.0.1)."""

import os
import re
import subprocess
import sys

import pytest

def _python_example(text, heading="\n## Python"):
    section = text[text.index(heading):]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no Python example after {heading.strip()!r}"
    return match.group(1)


def _ours():
    return {n for n in os.listdir("/dev/shm") if n.startswith("mkf-")}


def _run_example(path, tmp_path, heading):
    """Run the first Python block after `heading` of the file `path` in its own
    process and return the last line it printed; it must leave nothing in /dev/shm."""
    with open(path) as f:
        code = _python_example(f.read(), heading)
    script = tmp_path / "example.py"
    script.write_text(code)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    before = _ours()
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert _ours() <= before
    return run.stdout.strip().splitlines()[-1]


def test_shared_md_python_example(tmp_path, repo_file):
    # 100 arrays of range(i, i + 8192): sum = 8192 * (0 + ... + 99) + 100 * (0 + ... + 8191)
    expected = 8192 * sum(range(100)) + 100 * sum(range(8192))
    shared_md = repo_file("docs", "shared.md")
    assert float(_run_example(shared_md, tmp_path, "\n## Python")) == expected


def test_python_md_dask_example(tmp_path, repo_file):
    pytest.importorskip("distributed")
    python_md = repo_file("docs", "python.md")
    assert float(_run_example(python_md, tmp_path, "\n## Dask")) == 8 << 20  # 8 Mi ones
