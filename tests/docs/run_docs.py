#!/usr/bin/env python3
"""tests/docs/run_docs.py: every command and code block of README.md and docs/*.md,
run as printed (one of tools/test.sh's checks, after `bazel test //...`).

    python3 tests/docs/run_docs.py           # run everything, print one line per item
    python3 tests/docs/run_docs.py --list    # what would run, and what is skipped and why

What each fenced block becomes, by its language:

  sh      every command (a line, with its `\\` continuations), run with bash: in the
          checkout, or, for the commands that build and run a user's program (cc,
          c++, man, mandb, apropos, python3 FILE, MANPATH=...), in a scratch folder
          that holds the docs' named files. A system prefix (/usr/local,
          /opt/memkind-fixed) is replaced by a temporary PREFIX: these machines are
          shared, and a test must not install into them. PKG_CONFIG_PATH,
          LD_LIBRARY_PATH and MANPATH point at PREFIX, as docs/install.md tells a user
          of such a prefix to do. SKIP below lists the commands that are not run, each
          with its reason (most: another check runs exactly that command).
  c, cpp  after the commands (README's install into PREFIX among them): a program
          (it has main) is built with -Wall -Wextra -Werror (-pedantic for C++)
          against PREFIX and run; a synopsis (declarations only) is compiled
          after the public headers, so that every prototype printed must match the
          header's; a fragment (statements) is compiled and run inside main().
  python  run with python3, the package built by Bazel (//python:native) on its path,
          then checked with `mypy --strict`. Blocks marked as Starlark are not Python.
  rust    each block one example of a scratch crate that depends on rust/memkind-fixed
          (pinned by rust/Cargo.lock): `cargo clippy --all-targets -- -D warnings`, then
          each example run. A block without `fn main` is the body of
          `fn main() -> Result<(), Box<dyn Error>>`.
  cmake   the lines, after a project() and add_executable() for prog, prog_static and
          memkind_prog, configured and built against PREFIX.
  others  output shown in the docs and plain text are not code; toml, java, xml and
          perl blocks are listed as not run, with the check that covers them.

A Markdown comment on the line before a fence says more:

    <!-- docs-test: file NAME -->     the block is also the file NAME in the scratch
                                      folder (README's C program is prog.c, its Python
                                      program example.py)
    <!-- docs-test: skip REASON -->   not run, for REASON (printed)

memkind_prog.c, which the docs build with memkind-fixed-compat, is
tests/c/compat_test.c: a program written against memkind's <memkind.h>.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# Files of docs/ whose blocks are not run here, and why.
EXCLUDED_FILES = {
    "docs/java.md": "Java's page is being rewritten with Java's SharedKind (issue 23, item 8); "
                    "its build commands are what tests/packaging/java.sh and //java run",
}

# Commands (as printed, comment removed) that are not run, and why.
SKIP = {
    "tools/test.sh": "this check is part of tools/test.sh: it would run itself",
    "tools/setup.sh --bench": "installs the competitors system-wide (Debian packages) on a "
                              "machine shared by others; bench/run_all.sh runs it",
    "bench/run_all.sh": "the full benchmark, about 10 minutes; //bench:bench_smoke_test runs "
                        "the benchmark in --quick mode",
    "bench/run_all.sh --quick": "needs tools/setup.sh --bench (above); //bench:bench_smoke_test "
                                "runs the same benchmark in --quick mode",
    "bazel run //bench:bench -- [--quick] [--reps N] [--json PATH] [--seed N] [--only a,b,c,d,e,f,u] [--deps DIR]":
        "a synopsis with placeholders; //bench:bench_smoke_test runs it",
    "bazel run //bench/shared:shared_bench -- --markdown $PWD/bench/out/shared.md":
        "the full shared-heap benchmark, minutes with its competitors; "
        "//bench/shared:shared_bench_smoke_test runs it in --quick mode",
    "bazel run //bench:bench_static -- [same] [--fixed-decay-ms MS]":
        "a synopsis with placeholders",
    "echo /opt/memkind-fixed/lib > /etc/ld.so.conf.d/memkind-fixed.conf && ldconfig":
        "changes the machine's dynamic linker configuration; the programs here run with "
        "LD_LIBRARY_PATH=PREFIX/lib, the other way docs/install.md gives",
    "python3 -m build python/ && python3 -m auditwheel repair -w python/dist python/dist/*.whl":
        "tests/packaging/python.sh builds the sdist and the wheel exactly so, and installs both "
        "in fresh venvs (a few minutes)",
    "pip install python/dist/memkind_fixed-0.1.0-*manylinux*.whl numpy":
        "tests/packaging/python.sh installs the repaired wheel in a fresh venv; here the "
        "examples import the package that Bazel builds",
    "python3 -m build python/": "tests/packaging/python.sh",
    "python3 -m auditwheel repair -w python/dist python/dist/*.whl": "tests/packaging/python.sh",
    "pip install memkind_fixed-0.1.0-cp311-cp311-manylinux_2_34_x86_64.whl numpy":
        "tests/packaging/python.sh installs the wheel in a fresh venv",
    "pip install memkind_fixed-0.1.0.tar.gz numpy": "tests/packaging/python.sh installs the sdist "
                                                    "in a fresh venv",
    "pip install --no-build-isolation ./python": "would install into the python3 that the tests "
                                                 "use; tests/packaging/python.sh builds from "
                                                 "./python in a venv",
    "sudo apt-get install gcc make bzip2 libnuma-dev": "tools/setup.sh installs these (it ran above)",
    "cargo add memkind-fixed allocator-api2": "the crates are not on crates.io yet; "
                                              "tests/packaging/rust.sh uses the packages as "
                                              "docs/rust.md says ([patch.crates-io])",
    "cargo test": "//rust:cargo_test runs it (bazel test //...)",
    "cargo clippy --all-targets -- -D warnings": "//rust:cargo_clippy_test runs it",
    "MEMKIND_FIXED_LIB_DIR=$PWD/bazel-bin/core cargo test --manifest-path rust/Cargo.toml":
        "//rust:cargo_test runs exactly this way (MEMKIND_FIXED_LIB_DIR at Bazel's archive)",
    "bindings/rust/regenerate.sh": "rewrites the committed bindings; check_fresh.sh (next) "
                                   "checks they are current",
}

# Code blocks of other languages, and why they are not run.
OTHER_LANGUAGES = {
    "toml": "a Cargo.toml section; tests/packaging/rust.sh writes this [patch.crates-io] into "
            "its projects",
    "java": "Java is run by //java and tests/packaging/java.sh",
    "xml": "a Maven fragment; tests/packaging/java.sh builds its consumer with it",
    "perl": "Perl is run by //bindings/swig/perl",
}

# Prefixes printed in the docs, and what they become here.
SYSTEM_PREFIXES = ("/usr/local", "/opt/memkind-fixed")

# Commands that build or run a user's program: run in the scratch folder.
USER_COMMANDS = ("cc ", "c++ ", "man ", "mandb ", "apropos ", "whatis ", "MANPATH=", "python3 example",
                 "python -c", "python3 -c")

MARKER = re.compile(r"<!--\s*docs-test:\s*(\w+)\s*(.*?)\s*-->")


class Block:
    def __init__(self, path, line, lang, text, marker):
        self.path, self.line, self.lang, self.text, self.marker = path, line, lang, text, marker

    @property
    def where(self):
        return "%s:%d" % (self.path, self.line)


def blocks_of(rel):
    with open(os.path.join(TOP, rel), encoding="utf-8") as f:
        lines = f.read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while not lines[j].strip().startswith("```"):
            j += 1
        marker = None
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        if k >= 0:
            mm = MARKER.search(lines[k])
            if mm:
                marker = (mm.group(1), mm.group(2))
        text = textwrap.dedent("\n".join(lines[i + 1:j])) + "\n"
        out.append(Block(rel, i + 1, m.group(2), text, marker))
        i = j + 1
    return out


def doc_files():
    names = sorted(n for n in os.listdir(os.path.join(TOP, "docs")) if n.endswith(".md"))
    return ["README.md"] + ["docs/" + n for n in names]


def commands_of(text):
    """The commands of a sh block: lines joined at trailing backslashes."""
    cmds, cur = [], ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        if cur.strip():
            cmds.append(cur.strip())
        cur = ""
    return cmds


def strip_comment(cmd):
    """The command without its trailing comment (a # after whitespace, outside quotes)."""
    quote = None
    for i, ch in enumerate(cmd):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and i > 0 and cmd[i - 1] in " \t":
            return cmd[:i].rstrip()
    return cmd.strip()


class Runner:
    def __init__(self, listing):
        self.listing = listing
        self.passed = self.failed = self.skipped = 0
        self.scratch = tempfile.mkdtemp(prefix="mkf-docs.")
        self.prefix = os.path.join(self.scratch, "prefix")
        self.rust_examples = []  # (name, block)
        self.pylib = None
        env = dict(os.environ)
        env["PKG_CONFIG_PATH"] = os.path.join(self.prefix, "lib", "pkgconfig")
        env["LD_LIBRARY_PATH"] = os.path.join(self.prefix, "lib")
        env["MANPATH"] = os.path.join(self.prefix, "share", "man")
        env["CMAKE_PREFIX_PATH"] = self.prefix
        env["MANWIDTH"] = "80"
        self.env = env

    # ------------------------------------------------------------ reporting
    def result(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print("ok: " + what, flush=True)
        else:
            self.failed += 1
            print("FAILED: " + what, flush=True)
            if detail:
                print(textwrap.indent(detail.rstrip()[-4000:], "    "), flush=True)

    def skip(self, what, why):
        self.skipped += 1
        print("skipped: %s (%s)" % (what, why), flush=True)

    def run(self, argv, cwd, what, env=None, timeout=1800, shell=False):
        if self.listing:
            print("would run: " + what)
            return True
        try:
            p = subprocess.run(argv, cwd=cwd, env=env or self.env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=timeout, shell=shell)
        except subprocess.TimeoutExpired:
            self.result(False, what + ": timed out after %d s" % timeout)
            return False
        self.last_output = p.stdout
        self.result(p.returncode == 0, what, "" if p.returncode == 0 else p.stdout)
        return p.returncode == 0

    # ------------------------------------------------------------ sh
    def sh(self, block):
        cwd = TOP
        for printed in commands_of(block.text):
            cmd = strip_comment(printed)
            what = "%s: %s" % (block.where, cmd)
            if cmd in SKIP:
                self.skip(what, SKIP[cmd])
                continue
            if cmd == "cd rust":
                cwd = os.path.join(TOP, "rust")
                continue
            here = cmd
            for p in SYSTEM_PREFIXES:
                here = re.sub(re.escape(p) + r"(?=[/ ]|$)", self.prefix, here)
            user = cmd.startswith(USER_COMMANDS)
            run_in = self.scratch if user else cwd
            if here != cmd:
                what += "   [as: %s]" % here.replace(self.prefix, "PREFIX")
            env = self.env
            if cmd.startswith("python"):
                env = dict(self.env, PYTHONPATH=self.python_path())
            ok = self.run(["bash", "-o", "pipefail", "-c", here], run_in, what, env=env)
            if ok and not self.listing and re.match(r"man memkind_fixed\b", cmd):
                # Ours, not Intel's memkind_fixed(3): our page's footer names us.
                self.result("memkind-fixed" in self.last_output and "MEMKIND_FIXED(3)" in self.last_output,
                            "%s: man memkind_fixed shows memkind-fixed's page" % block.where,
                            self.last_output[:800])

    # ------------------------------------------------------------ C and C++
    def c_like(self, block):
        cpp = block.lang in ("cpp", "c++")
        compiler = "c++" if cpp else "cc"
        ext = ".cc" if cpp else ".c"
        flags = ["-Wall", "-Wextra", "-Werror"] + (["-std=c++11", "-pedantic"] if cpp else [])
        text = block.text
        name = "snippet_%s_%d" % (re.sub(r"\W", "_", block.path), block.line)
        inc = ["-I" + os.path.join(TOP, "core", "include"), "-I" + os.path.join(TOP, "core", "compat")]
        if "main(" in text:
            src = os.path.join(self.scratch, name + ext)
            with open(src, "w") as f:
                f.write(text)
            exe = src[:-len(ext)]
            if self.run([compiler] + flags + ["-o", exe, src, "-I" + os.path.join(self.prefix, "include"),
                         "-L" + os.path.join(self.prefix, "lib"), "-lmemkind_fixed"],
                        self.scratch, "%s: %s program builds (%s)" % (block.where, block.lang, " ".join(flags))):
                self.run([exe], self.scratch, "%s: %s program runs" % (block.where, block.lang))
            return
        code_lines = [l for l in text.splitlines() if l.strip() and not l.strip().startswith(("/*", "*", "//"))]
        declarations = all(re.sub(r"/\*.*?\*/|//.*", "", l).rstrip().endswith((";", ")")) or
                           l.lstrip().startswith("#") for l in code_lines) and \
            all(re.match(r"\s*(#|typedef\b|extern\b|struct\b|[\w\s\*]+\b\w+\s*\()", l) for l in code_lines)
        if declarations:
            src = os.path.join(self.scratch, name + ext)
            with open(src, "w") as f:
                f.write("#include <memkind_fixed.h>\n#include <memkind/internal/memkind_arena.h>\n"
                        "#include <memkind/internal/memkind_default.h>\n"
                        "#include <memkind/internal/memkind_fixed.h>\n" + text)
            self.run([compiler] + flags + ["-pedantic", "-fsyntax-only", src] + inc, self.scratch,
                     "%s: synopsis matches the header (%s -fsyntax-only -pedantic)" % (block.where, compiler))
            return
        # A fragment: statements inside main().
        src = os.path.join(self.scratch, name + ext)
        with open(src, "w") as f:
            f.write("#include <memkind_fixed.h>\n#include <stdio.h>\n#include <string.h>\n"
                    "#include <sys/mman.h>\nint main(void)\n{\n" + text + "    return 0;\n}\n")
        exe = src[:-len(ext)]
        if self.run([compiler] + flags + ["-o", exe, src, "-I" + os.path.join(self.prefix, "include"),
                     "-L" + os.path.join(self.prefix, "lib"), "-lmemkind_fixed"],
                    self.scratch, "%s: %s fragment builds inside main() (%s)" % (block.where, block.lang,
                                                                                  " ".join(flags))):
            self.run([exe], self.scratch, "%s: %s fragment runs" % (block.where, block.lang))

    # ------------------------------------------------------------ Python
    def python_path(self):
        if self.pylib is None:
            self.pylib = os.path.join(self.scratch, "pylib")
            pkg = os.path.join(self.pylib, "memkind_fixed")
            os.makedirs(pkg)
            ok = self.run(["bazel", "build", "//python:native"], TOP,
                          "the Python package for the examples: bazel build //python:native")
            if ok and not self.listing:
                src = os.path.join(TOP, "python", "memkind_fixed")
                for n in os.listdir(src):
                    if n.endswith((".py", ".pyi")) or n == "py.typed":
                        shutil.copy(os.path.join(src, n), pkg)
                bin_dir = subprocess.run(["bazel", "info", "bazel-bin"], cwd=TOP, capture_output=True,
                                         text=True).stdout.strip()
                shutil.copy(os.path.join(bin_dir, "python", "memkind_fixed", "_native.so"), pkg)
        return self.pylib

    def python(self, block):
        first = block.text.lstrip().splitlines()[0] if block.text.strip() else ""
        if first.startswith(("# WORKSPACE", "# BUILD")):
            self.skip(block.where + ": Starlark (%s), not Python" % first[2:],
                      "tests/consumer/ is such a workspace; tests/packaging/c.sh builds and runs it")
            return
        pylib = self.python_path()
        name = "snippet_%s_%d.py" % (re.sub(r"\W", "_", block.path), block.line)
        src = os.path.join(self.scratch, name)
        with open(src, "w") as f:
            f.write(block.text)
        env = dict(self.env, PYTHONPATH=pylib, MYPYPATH=pylib)
        self.run([sys.executable, src], self.scratch, "%s: python example runs" % block.where, env=env,
                 timeout=300)
        self.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir=/dev/null",
                  src], self.scratch, "%s: mypy --strict" % block.where, env=env)

    # ------------------------------------------------------------ Rust
    def rust(self, block):
        self.rust_examples.append(("doc_%s_%d" % (re.sub(r"\W", "_", block.path), block.line), block))

    def rust_build(self):
        if not self.rust_examples:
            return
        crate = os.path.join(self.scratch, "rust-docs")
        os.makedirs(os.path.join(crate, "examples"))
        with open(os.path.join(crate, "Cargo.toml"), "w") as f:
            f.write('[package]\nname = "docs-examples"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n'
                    '[dependencies]\nmemkind-fixed = { path = "%s" }\nallocator-api2 = "0.2"\n\n[workspace]\n'
                    % os.path.join(TOP, "rust", "memkind-fixed"))
        # The versions of rust/Cargo.lock (cargo adds this crate's own entry).
        shutil.copy(os.path.join(TOP, "rust", "Cargo.lock"), os.path.join(crate, "Cargo.lock"))
        for name, block in self.rust_examples:
            text = block.text
            if "fn main" not in text:
                uses = [l for l in text.splitlines() if l.startswith("use ")]
                body = [l for l in text.splitlines() if not l.startswith("use ")]
                text = ("\n".join(uses) + "\n\nfn main() -> Result<(), Box<dyn std::error::Error>> {\n" +
                        textwrap.indent("\n".join(body), "    ") + "\n    Ok(())\n}\n")
            with open(os.path.join(crate, "examples", name + ".rs"), "w") as f:
                f.write(text)
        env = dict(self.env, CARGO_TARGET_DIR=os.path.join(TOP, "rust", "target", "docs-examples"))
        where = ", ".join(b.where for _, b in self.rust_examples)
        if not self.run(["cargo", "clippy", "--offline", "--examples", "-q", "--", "-D", "warnings"], crate,
                        "Rust examples (%s): cargo clippy --examples -- -D warnings" % where, env=env):
            return
        for name, block in self.rust_examples:
            self.run(["cargo", "run", "--offline", "-q", "--example", name], crate,
                     "%s: Rust example runs" % block.where, env=env, timeout=600)

    # ------------------------------------------------------------ CMake
    def cmake(self, block):
        proj = os.path.join(self.scratch, "cmake-%d" % block.line)
        os.makedirs(proj)
        for f in ("prog.c", "memkind_prog.c"):
            shutil.copy(os.path.join(self.scratch, f), proj)
        with open(os.path.join(proj, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.13)\nproject(docs C)\n"
                    "add_executable(prog prog.c)\nadd_executable(prog_static prog.c)\n"
                    "add_executable(memkind_prog memkind_prog.c)\n" + block.text)
        if self.run(["cmake", "-S", proj, "-B", proj + "/build", "-DCMAKE_PREFIX_PATH=" + self.prefix], proj,
                    "%s: cmake configure against PREFIX" % block.where) and \
                self.run(["cmake", "--build", proj + "/build"], proj, "%s: cmake --build" % block.where):
            for exe in ("prog", "prog_static", "memkind_prog"):
                self.run([os.path.join(proj, "build", exe)], proj, "%s: %s runs" % (block.where, exe))

    # ------------------------------------------------------------ all
    def main(self):
        files = doc_files()
        all_blocks = []
        for rel in files:
            if rel in EXCLUDED_FILES:
                self.skip(rel, EXCLUDED_FILES[rel])
                continue
            all_blocks += blocks_of(rel)
        shutil.copy(os.path.join(TOP, "tests", "c", "compat_test.c"), os.path.join(self.scratch, "memkind_prog.c"))
        for b in all_blocks:
            if b.marker and b.marker[0] == "file":
                with open(os.path.join(self.scratch, b.marker[1]), "w") as f:
                    f.write(b.text)
        programs = []  # C and C++ blocks: built after the commands, against their install
        for b in all_blocks:
            if b.marker and b.marker[0] == "skip":
                self.skip("%s: %s block" % (b.where, b.lang or "text"), b.marker[1])
            elif b.lang == "sh":
                self.sh(b)
            elif b.lang in ("c", "cpp", "c++"):
                programs.append(b)
            elif b.lang == "python":
                self.python(b)
            elif b.lang == "rust":
                self.rust(b)
            elif b.lang == "cmake":
                self.cmake(b)
            elif b.lang in OTHER_LANGUAGES:
                self.skip("%s: %s block" % (b.where, b.lang), OTHER_LANGUAGES[b.lang])
        if programs and not os.path.exists(os.path.join(self.prefix, "lib", "libmemkind_fixed.so")):
            self.run([os.path.join(TOP, "tools", "install.sh"), self.prefix], TOP,
                     "no install command ran: tools/install.sh PREFIX for the C programs")
        for b in programs:
            self.c_like(b)
        self.rust_build()
        print("docs: %d passed, %d failed, %d skipped (each with its reason above); scratch %s"
              % (self.passed, self.failed, self.skipped, self.scratch))
        if self.failed == 0 and not self.listing:
            shutil.rmtree(self.scratch, ignore_errors=True)
        return 1 if self.failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--list", action="store_true", help="print what would run; run nothing")
    args = parser.parse_args()
    sys.exit(Runner(args.list).main())
