"""memkind_fixed_dependencies(): what a workspace declares to build @memkind_fixed.

In another Bazel workspace (WORKSPACE mode, Bazel 4.2):

    local_repository(
        name = "memkind_fixed",
        path = "/path/to/memkind-fixed",  # a checkout where tools/setup.sh has run
    )

    load("@memkind_fixed//:repositories.bzl", "memkind_fixed_dependencies")

    memkind_fixed_dependencies()

then depend on "@memkind_fixed//core:memkind_fixed" (and
"@memkind_fixed//core:compat_headers" for <memkind.h>). tests/consumer/ is such a
workspace. This workspace's own WORKSPACE calls the same macro.

It declares, each only when the workspace has not declared that name before:
  @jemalloc               the private jemalloc that tools/setup.sh built into the
                          checkout's .deps/jemalloc (//core links it);
  @rules_cc, @rules_java, @remote_coverage_tools
                          the offline stand-ins of third_party/bazel/ for the
                          repositories Bazel 4.2's WORKSPACE suffix downloads.
                          A workspace that has network access and wants the real
                          ones declares them before calling the macro.
Every path is taken relative to the memkind_fixed checkout, found from this file's
own label, so the calling workspace may be anywhere.
"""

# A file at the root of the memkind_fixed workspace, to find that directory.
_ROOT = Label("//:WORKSPACE")

def _root(rctx):
    return rctx.path(rctx.attr._root).dirname

def _child(path, relative):
    for part in relative.split("/"):
        path = path.get_child(part)
    return path

def _link_children(rctx, src):
    for entry in src.readdir():
        rctx.symlink(entry, entry.basename)

def _source_tree_impl(rctx):
    src = _child(_root(rctx), rctx.attr.subdir)
    if not src.exists:
        fail("%s: no directory %s" % (rctx.name, src))
    _link_children(rctx, src)

# A repository whose files are those of a folder of the memkind_fixed checkout.
_source_tree = repository_rule(
    implementation = _source_tree_impl,
    attrs = {
        "subdir": attr.string(mandatory = True),
        "_root": attr.label(default = _ROOT),
    },
    local = True,
)

def _jemalloc_impl(rctx):
    root = _root(rctx)
    built = _child(root, ".deps/jemalloc")
    if not _child(built, "lib/libmkf_jemalloc.a").exists:
        fail("@jemalloc: %s has no lib/libmkf_jemalloc.a; run tools/setup.sh in %s first" %
             (built, root))
    _link_children(rctx, built)
    rctx.symlink(rctx.attr.build_file, "BUILD.bazel")

# The private jemalloc of tools/setup.sh, with third_party/jemalloc/jemalloc.BUILD.
_jemalloc_repository = repository_rule(
    implementation = _jemalloc_impl,
    attrs = {
        "build_file": attr.label(default = Label("//third_party/jemalloc:jemalloc.BUILD")),
        "_root": attr.label(default = _ROOT),
    },
    local = True,
)

def memkind_fixed_dependencies():
    """Declares @jemalloc and the offline rules repositories, unless already declared."""
    for name in ["rules_cc", "rules_java", "remote_coverage_tools"]:
        if not native.existing_rule(name):
            _source_tree(name = name, subdir = "third_party/bazel/" + name)
    if not native.existing_rule("jemalloc"):
        _jemalloc_repository(name = "jemalloc")
