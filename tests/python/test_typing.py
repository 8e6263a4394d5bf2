"""The package's typing as users meet it: inspect.signature() on every public method
(those written in C too), and mypy --strict on code that uses SharedKind's arrays as
SharedArrays (docs/shared.md's example does)."""

import inspect
import os
import subprocess
import sys
import textwrap

import pytest

import memkind_fixed as mkf


def _public_callables():
    """(qualified name, callable) of every public function and method of the package,
    the ones its classes inherit from other public classes of ours included, not
    numpy's or object's."""
    ours = {getattr(mkf, n) for n in mkf.__all__ if inspect.isclass(getattr(mkf, n))}
    seen = []
    for name in mkf.__all__:
        obj = getattr(mkf, name)
        if inspect.isfunction(obj) or inspect.isbuiltin(obj):
            seen.append((name, obj))
        if not inspect.isclass(obj):
            continue
        for klass in obj.__mro__:
            if klass is object or klass.__module__.split(".")[0] != "memkind_fixed" and klass not in ours:
                continue
            for attr, value in vars(klass).items():
                if attr.startswith("_") and attr not in ("__init__", "__enter__", "__exit__"):
                    continue
                if isinstance(value, (staticmethod, classmethod)):
                    value = getattr(obj, attr)
                if callable(value) and not inspect.isclass(value):
                    seen.append(("%s.%s" % (name, attr), getattr(obj, attr)))
    return seen


def test_every_public_method_has_a_signature():
    callables = _public_callables()
    names = {n for n, _ in callables}
    # The ones that are written in C (KindBase, Block) are among them.
    assert {"FixedKind.malloc", "FixedKind.free", "SharedKind.malloc", "Allocation.release"} <= names
    failures = []
    for name, fn in callables:
        try:
            inspect.signature(fn)
        except (ValueError, TypeError) as e:
            failures.append("%s: %s" % (name, e))
    assert not failures, failures
    assert list(inspect.signature(mkf.FixedKind.malloc).parameters) == ["self", "size"]
    kind = mkf.FixedKind(size=1 << 20)
    try:
        assert list(inspect.signature(kind.free).parameters) == ["allocation"]
    finally:
        kind.close()


def test_mypy_strict_sees_shared_arrays(tmp_path):
    pytest.importorskip("mypy")
    pytest.importorskip("numpy")
    src = tmp_path / "uses_shared.py"
    src.write_text(textwrap.dedent("""\
        import memkind_fixed as mkf

        def send(kind: mkf.SharedKind) -> int:
            a = kind.empty(10, dtype="float64")
            b = kind.zeros((4, 4))
            c = kind.array(range(8), dtype="int64").disown()
            reveal_type(a)
            reveal_type(c)
            total: int = a.shared_offset + b.shared_offset + c.shared_offset
            return total
        """))
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(mkf.__file__)))
    env = dict(os.environ, MYPYPATH=package_root)
    run = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                          "--cache-dir", str(tmp_path / "cache"), str(src)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    revealed = [l for l in run.stdout.splitlines() if "Revealed type" in l]
    assert len(revealed) == 2 and all("memkind_fixed._shared.SharedArray" in l for l in revealed), \
        run.stdout
