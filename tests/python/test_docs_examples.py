"""The Python example of docs/shared.md runs as printed, in its own process (its
ProcessPoolExecutor spawns workers that import memkind_fixed), prints the sum its
arrays hold, and leaves nothing in /dev/shm."""

import os
import re
import subprocess
import sys

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def _docs_file(name):
    # Under Bazel the file is a data dependency in the runfiles tree.
    for root in (os.environ.get("TEST_SRCDIR", ""), TOP):
        for candidate in (os.path.join(root, "memkind_fixed", "docs", name),
                          os.path.join(root, "docs", name)):
            if os.path.isfile(candidate):
                return candidate
    raise FileNotFoundError(name)


def _python_example(text):
    section = text[text.index("\n## Python"):]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "docs/shared.md has no Python example after '## Python'"
    return match.group(1)


def _ours():
    return {n for n in os.listdir("/dev/shm") if n.startswith("mkf-")}


def test_shared_md_python_example(tmp_path):
    with open(_docs_file("shared.md")) as f:
        code = _python_example(f.read())
    script = tmp_path / "example.py"
    script.write_text(code)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    before = _ours()
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    # 100 arrays of range(i, i + 8192): sum = 8192 * (0 + ... + 99) + 100 * (0 + ... + 8191)
    expected = 8192 * sum(range(100)) + 100 * sum(range(8192))
    assert float(run.stdout.strip().splitlines()[-1]) == expected
    assert _ours() <= before
