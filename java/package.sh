#!/usr/bin/env bash
# java/package.sh OUT_DIR: write the Maven project of the Java binding to OUT_DIR (new
# or empty), ready for `mvn -f OUT_DIR/pom.xml install`.
#
# Bazel builds what Maven cannot: the JNI library (the SWIG wrapper with the core and
# the private jemalloc linked in) and the classes SWIG generates. The project is
# Maven's standard layout, so that the jar is made, tested and installed by Maven:
#
#   pom.xml                      java/pom.xml
#   src/main/java                java/src and the SWIG-generated classes
#   src/main/resources           org/memkind/fixed/native/linux-<arch>/libmemkind_fixed_jni.so
#                                (debug info stripped; NativeLibrary loads it),
#                                META-INF/LICENSE, META-INF/jemalloc-COPYING
#   src/test/java                java/junit (JUnit 5)
#
# Needs tools/setup.sh to have run (JDK, swig, .deps/jemalloc). BAZEL_OUTPUT_BASE,
# if set, is passed to bazel as --output_base.
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: java/package.sh OUT_DIR" >&2
    exit 2
fi
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
if [ -n "$(ls -A "$out")" ]; then
    echo "java/package.sh: $out is not empty" >&2
    exit 1
fi
jemalloc_copying=$top/.deps/jemalloc/COPYING
if [ ! -f "$jemalloc_copying" ]; then
    echo "java/package.sh: $jemalloc_copying is missing: run tools/setup.sh" >&2
    exit 1
fi

bazel=(bazel)
[ -n "${BAZEL_OUTPUT_BASE:-}" ] && bazel+=("--output_base=$BAZEL_OUTPUT_BASE")
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cd "$top"
# Bazel's progress goes to the log, shown only when the build fails.
if ! "${bazel[@]}" build --nosandbox_debug //java:libmemkind_fixed_jni.so //java:swig_java \
        >"$log" 2>&1; then
    grep -E 'ERROR|error' "$log" | head -20 >&2 || tail -20 "$log" >&2
    echo "java/package.sh: bazel build failed" >&2
    exit 1
fi
bin=$("${bazel[@]}" info --nosandbox_debug bazel-bin 2>/dev/null)

platform=linux-$(uname -m)
native=$out/src/main/resources/org/memkind/fixed/native/$platform
mkdir -p "$out/src/main/java" "$out/src/main/resources/META-INF" "$native" "$out/src/test/java"
cp "$top/java/pom.xml" "$out/pom.xml"
cp -R "$top/java/src/." "$out/src/main/java/"
(cd "$out/src/main/java" && jar --extract --file "$bin/java/memkind_fixed_swig.srcjar" && rm -rf META-INF)
cp -R "$top/java/junit/." "$out/src/test/java/"
objcopy --strip-debug "$bin/java/libmemkind_fixed_jni.so" "$native/libmemkind_fixed_jni.so"
chmod 644 "$native/libmemkind_fixed_jni.so"
cp "$top/LICENSE" "$out/src/main/resources/META-INF/LICENSE"
cp "$jemalloc_copying" "$out/src/main/resources/META-INF/jemalloc-COPYING"
chmod -R u+w "$out"
echo "java/package.sh: Maven project in $out ($platform, $(du -k "$native/libmemkind_fixed_jni.so" | cut -f1) KiB JNI library)"
