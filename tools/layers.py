#!/usr/bin/env python3
"""Check that the core's files call only down the layers of docs/design.md.

    tools/layers.py            print the calls between files, by layer; exit 1 on an
                               upward call or a file with no layer
    tools/layers.py --graph    also print every (caller file -> callee file) edge

It also fails when "shm" appears in a file of core/src outside shared/ (the
shared page source and the shared kind's constructor): which heap a kind is, is
asked of its page source (page_source.h), never tested.

A call is any use of a function that another file of core/src defines: a call, or
its address taken (an ops table, a hook table, a callback). Calls inside one file
and within one layer are fine; a call from a lower layer to a higher one is not.
The layers, from the top (each line: layer name, then its files):
"""

import argparse
import os
import re
import sys

# From the top down. A file may call its own layer and those below it.
LAYERS = [
    ("api", ["api.c", "errors.c"]),
    ("kinds", ["registry.c", "fixed.c", "default.c", "shared/heap.c", "fork.c"]),
    ("engine", ["arena.c", "tcache.c", "large.c", "extent_hooks.c"]),
    ("pages", ["region_map.c", "shared/page_map.c", "shared/process.c"]),
    ("table", ["kind_table.c"]),
    ("platform", ["jemalloc_glue.c", "region_helpers.c"]),
]

__doc__ += "".join(f"    {name:9s} {' '.join(files)}\n" for name, files in LAYERS)

DEF = re.compile(r"^(?:MKF_EXPORT\s+|MKF_HIDDEN\s+)?(static\s+)?(?:inline\s+)?"
                 r"[A-Za-z_][\w\s\*]*?\b([A-Za-z_]\w*)\s*\(")
IDENT = re.compile(r"\b([A-Za-z_]\w*)\b")


def strip(text):
    """The text without comments, strings and character literals."""
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(?:\\.|[^"\\\n])*"', '""', text)
    return re.sub(r"'(?:\\.|[^'\\\n])'", "''", text)


def functions(path):
    """(public names, static names) defined at the top level of a C file."""
    public, private = set(), set()
    lines = strip(open(path).read()).split("\n")
    for i, line in enumerate(lines):
        m = DEF.match(line)
        if m is None or line.startswith((" ", "\t", "#", "}")):
            continue
        # A definition: the brace comes at the end of the signature's last line
        # or on the line after it.
        j = i
        while j < len(lines) and ")" not in lines[j]:
            j += 1
        nxt = lines[j + 1].strip() if j + 1 < len(lines) else ""
        if not (re.search(r"\)\s*\{", lines[j]) or nxt == "{"):
            continue
        (private if m.group(1) else public).add(m.group(2))
    return public, private


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--graph", action="store_true", help="print every edge")
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", "core",
                                                   "src"))
    args = ap.parse_args()
    root = os.path.normpath(args.root)
    files = sorted(os.path.relpath(os.path.join(d, f), root)
                   for d, _, fs in os.walk(root) for f in fs if f.endswith(".c"))
    layer_of = {f: i for i, (_, fs) in enumerate(LAYERS) for f in fs}
    bad = [f for f in files if f not in layer_of]
    missing = [f for fs in (fs for _, fs in LAYERS) for f in fs if f not in files]
    defined, statics = {}, {}
    for f in files:
        public, private = functions(os.path.join(root, f))
        statics[f] = private
        for name in public:
            defined.setdefault(name, f)
    edges = {}
    for f in files:
        text = strip(open(os.path.join(root, f)).read())
        for name in set(IDENT.findall(text)):
            callee = defined.get(name)
            if callee is None or callee == f or name in statics[f]:
                continue
            edges.setdefault((f, callee), set()).add(name)
    up = []
    for (a, b), names in sorted(edges.items()):
        if a in layer_of and b in layer_of and layer_of[b] < layer_of[a]:
            up.append((a, b, names))
    width = max(len(f) for f in files)
    print("layers, from the top:")
    for i, (name, fs) in enumerate(LAYERS):
        print(f"  {i} {name:9s} {' '.join(fs)}")
    if args.graph:
        print("calls between files:")
        for (a, b), names in sorted(edges.items(), key=lambda e: (layer_of.get(e[0][0], 9),
                                                                 e[0])):
            la, lb = layer_of.get(a, "?"), layer_of.get(b, "?")
            print(f"  {a:{width}s} ({la}) -> {b:{width}s} ({lb}): {' '.join(sorted(names))}")
    for f in bad:
        print(f"layers: {f} has no layer (add it to LAYERS in tools/layers.py)")
    for f in missing:
        print(f"layers: {f} is in LAYERS but not in core/src")
    for a, b, names in up:
        print(f"layers: upward call {a} ({LAYERS[layer_of[a]][0]}) -> {b} "
              f"({LAYERS[layer_of[b]][0]}): {' '.join(sorted(names))}")
    # Which heap a kind is, is the page source's business (core/src/page_source.h):
    # the shared heap is named only in its page source and its constructor.
    branches = []
    for f in files:
        if f.startswith("shared/"):
            continue
        for n, line in enumerate(open(os.path.join(root, f)), 1):
            if "shm" in line:
                branches.append(f"{f}:{n}: {line.strip()}")
    for b in branches:
        print(f"layers: the shared heap named outside shared/: {b}")
    print(f"layers: {len(files)} files, {len(edges)} calls between files, {len(up)} upward, "
          f"{len(branches)} mentions of the shared heap outside shared/")
    return 1 if up or bad or missing or branches else 0


if __name__ == "__main__":
    sys.exit(main())
