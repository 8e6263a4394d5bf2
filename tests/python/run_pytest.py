"""Entry point of the py_tests in tests/python/BUILD: pytest over the named files.

    run_pytest.py [--sanitizer=asan|tsan] test_x.py...

Under --config=asan or --config=tsan the module links an instrumented core, whose
runtime must be loaded before anything else: the script then runs itself again with
the runtime in LD_PRELOAD (CPython's deliberate leaks at exit are not reported).
Bazel runs it from the runfiles tree, which is not a place for pytest's cache.
"""

import os
import subprocess
import sys

RUNTIMES = {"asan": ["libasan.so", "libubsan.so"], "tsan": ["libtsan.so"]}
PRELOADED = "MEMKIND_FIXED_SANITIZER_PRELOADED"


def _rerun_with_runtime(sanitizer, rest):
    cc = os.environ.get("CC", "gcc")
    libs = [subprocess.run([cc, f"-print-file-name={name}"], check=True,
                           capture_output=True, text=True).stdout.strip()
            for name in RUNTIMES[sanitizer]]
    env = dict(os.environ, LD_PRELOAD=":".join(libs), **{PRELOADED: "1"})
    if sanitizer == "asan":
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *rest], env)


def main(argv):
    sanitizer = None
    if argv and argv[0].startswith("--sanitizer="):
        sanitizer, argv = argv[0].split("=", 1)[1], argv[1:]
    if sanitizer and not os.environ.get(PRELOADED):
        _rerun_with_runtime(sanitizer, argv)
    import pytest
    here = os.path.dirname(os.path.abspath(__file__))
    files = [os.path.join(here, name) for name in argv] or [here]
    return pytest.main(["-p", "no:cacheprovider", "-q", "-rs", *files])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
