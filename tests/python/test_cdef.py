"""The checked-in cdef is what bindings/cffi/gen_cdef.py makes of the header."""

import os
import re
import subprocess
import sys

import memkind_fixed as mkf

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
GEN = os.path.join(TOP, "bindings", "cffi", "gen_cdef.py")
HEADER = os.path.join(TOP, "core", "include", "memkind_fixed.h")
CDEF = os.path.join(TOP, "bindings", "cffi", "memkind_fixed.cdef")


def run_gen(*args):
    return subprocess.run([sys.executable, GEN, *args], capture_output=True, text=True)


def test_checked_in_cdef_is_current():
    result = run_gen("--check", "--header", HEADER, "--output", CDEF)
    assert result.returncode == 0, (
        "bindings/cffi/memkind_fixed.cdef is stale; run python3 bindings/cffi/gen_cdef.py\n"
        + result.stdout + result.stderr)


def test_check_notices_a_changed_header(tmp_path):
    header = tmp_path / "memkind_fixed.h"
    text = open(HEADER).read().replace(
        "int memkind_get_version(void);",
        "int memkind_get_version(void);\nint memkind_new_function(int x);")
    header.write_text(text)
    result = run_gen("--check", "--header", str(header), "--output", CDEF)
    assert result.returncode == 1
    assert "+int memkind_new_function(int x);" in result.stdout
    out = tmp_path / "new.cdef"
    assert run_gen("--header", str(header), "--output", str(out)).returncode == 0
    assert "int memkind_new_function(int x);" in out.read_text()


def test_every_public_function_is_bound():
    header = open(HEADER).read()
    names = set(re.findall(r"^\w[\w\s\*]*?\b(memkind_\w+)\(", header, re.M))
    assert len(names) > 40
    missing = sorted(n for n in names if not hasattr(mkf.lib, n))
    assert missing == []
    cdef = open(CDEF).read()
    assert "__attribute__" not in cdef and "#include" not in cdef
    assert mkf.lib.MEMKIND_FIXED_VERSION_MINOR == 1
    assert mkf.lib.MEMKIND_REGION_ZEROED == 1 and mkf.lib.MEMKIND_REGION_PURGE == 2
    assert mkf.lib.MEMKIND_ERROR_DESTROYED == -104
    assert mkf.ffi.sizeof("struct memkind_fixed_stats") >= 7 * 8 + 8
