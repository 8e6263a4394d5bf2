#!/usr/bin/env bash
# tests/packaging/java.sh - the Java package as its users make and use it, from a
# temporary directory outside the repository:
#
#   1. java/package.sh writes the Maven project (Bazel builds the JNI library and the
#      SWIG classes), and `mvn install` (Debian's Maven) compiles it, runs its JUnit
#      tests and installs the jar into a local repository made for this run (the
#      user's ~/.m2 is not touched);
#   2. the jar carries the JNI library, LICENSE and jemalloc's COPYING, and says its
#      license in the manifest and the installed pom; its public classes are the API
#      (FixedKind, SharedKind, the exceptions, the constants), none of them a class
#      SWIG generates (java/public_api_test.sh, with java/swig_java.sh's output);
#   3. tests/packaging/java-consumer, a Maven project that depends on
#      org.memkind.fixed:memkind-fixed, builds offline against that repository and runs
#      with `java -cp` and no -Djava.library.path: the library is loaded from a private
#      copy in java.io.tmpdir that is gone when the program ends;
#   4. -Dorg.memkind.fixed.library=<file> still loads a library installed by hand.
#
# Maven's plugins and JUnit come from Maven Central; they are kept between runs in
# $MKF_MAVEN_CACHE (default ~/.cache/memkind-fixed/maven; empty: no cache).
# BAZEL_OUTPUT_BASE is passed on to java/package.sh. Ends with "N passed, N failed".
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
for tool in mvn java jar swig objcopy readelf nm; do
    if ! command -v "$tool" >/dev/null; then
        echo "java.sh: $tool is missing: run tools/setup.sh" >&2
        exit 1
    fi
done
cache=${MKF_MAVEN_CACHE-${XDG_CACHE_HOME:-$HOME/.cache}/memkind-fixed/maven}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mkf-java-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
repo=$tmp/m2
mvn=(mvn -B -ntp -Dstyle.color=never "-Dmaven.repo.local=$repo")

passed=0 failed=0
check() { # check WHAT COMMAND...: one check, counted
    local what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL: $what" >&2
    fi
}
fatal() {
    echo "java.sh: $*" >&2
    echo "java packaging: $passed passed, $((failed + 1)) failed"
    exit 1
}

mkdir -p "$repo"
[ -n "$cache" ] && [ -d "$cache" ] && cp -R "$cache/." "$repo/"

# 1. The Maven project, and mvn install.
"$top/java/package.sh" "$tmp/stage" || fatal "java/package.sh failed"
if ! (cd "$tmp" && "${mvn[@]}" -f stage/pom.xml install >"$tmp/install.log" 2>&1); then
    grep -E 'ERROR|FAIL|Tests run' "$tmp/install.log" | head -30 >&2
    fatal "mvn install failed"
fi
tests=$(grep -E '^\[INFO\] Tests run: [0-9]+, Failures: 0, Errors: 0, Skipped: 0$' "$tmp/install.log" || true)
check "mvn install runs the JUnit tests, all passing" \
    test "$(sed -E 's/.*Tests run: ([0-9]+).*/\1/' <<<"$tests")" -ge 6
echo "mvn install: ${tests#\[INFO\] }"

# 2. What the installed jar carries.
installed=$repo/org/memkind/fixed/memkind-fixed/0.1.0
jarfile=$installed/memkind-fixed-0.1.0.jar
[ -f "$jarfile" ] || fatal "mvn install did not install $jarfile"
entries=$(jar --list --file "$jarfile")
so=org/memkind/fixed/native/linux-$(uname -m)/libmemkind_fixed_jni.so
check "the jar carries $so" grep -qx "$so" <<<"$entries"
mkdir -p "$tmp/unpacked" "$tmp/lib"
(cd "$tmp/unpacked" && jar --extract --file "$jarfile" META-INF/LICENSE META-INF/jemalloc-COPYING \
    META-INF/MANIFEST.MF "$so")
check "the jar's META-INF/LICENSE is LICENSE" cmp -s "$tmp/unpacked/META-INF/LICENSE" "$top/LICENSE"
check "the jar's META-INF/jemalloc-COPYING is jemalloc's (.deps/jemalloc/COPYING)" \
    cmp -s "$tmp/unpacked/META-INF/jemalloc-COPYING" "$top/.deps/jemalloc/COPYING"
manifest=$(tr -d '\r' <"$tmp/unpacked/META-INF/MANIFEST.MF" | sed -e ':a' -e 'N' -e '$!ba' -e 's/\n //g')
check "the manifest's Bundle-License names BSD-3-Clause and jemalloc's BSD-2-Clause" \
    grep -q '^Bundle-License: BSD-3-Clause;.*BSD-2-Clause;' <<<"$manifest"
check "the installed pom's license is BSD-3-Clause" \
    grep -q '<name>BSD-3-Clause</name>' "$installed/memkind-fixed-0.1.0.pom"
# SWIG's output, to tell the generated classes from the hand-written ones.
"$top/java/swig_java.sh" "$top/bindings/swig/memkind_fixed.i" "$top/core/include/memkind_fixed.h" \
    "$tmp/swig/memkind_fixed_jni_wrap.c" "$tmp/swig/memkind_fixed_swig.srcjar" ||
    fatal "java/swig_java.sh failed"
check "the jar's public classes are the API, none generated (java/public_api_test.sh)" \
    "$top/java/public_api_test.sh" "$jarfile" "$tmp/swig/memkind_fixed_swig.srcjar"
lib=$tmp/unpacked/$so
exports=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[A-Z]$/ {print $3}')
check "the JNI library exports Java_* only" \
    test -z "$(grep -v '^Java_org_memkind_fixed_' <<<"$exports" || true)"
check "the JNI library needs no libstdc++" \
    test -z "$(readelf -d "$lib" | grep 'NEEDED.*libstdc++' || true)"
check "the JNI library has no debug info" \
    test -z "$(readelf -S "$lib" | grep '\.debug_info' || true)"
echo "jar: $(wc -l <<<"$entries") entries, $(du -k "$jarfile" | cut -f1) KiB;" \
    "JNI library $(du -k "$lib" | cut -f1) KiB, NEEDED" \
    "$(readelf -d "$lib" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | tr '\n' ' ')"

# 3. A Maven consumer project, offline against the local repository.
cp -R "$top/tests/packaging/java-consumer" "$tmp/consumer"
if ! (cd "$tmp/consumer" && "${mvn[@]}" -o -q package >"$tmp/consumer.log" 2>&1); then
    tail -30 "$tmp/consumer.log" >&2
    fatal "mvn package of the consumer project failed"
fi
classpath=$tmp/consumer/target/memkind-fixed-consumer.jar:$jarfile
mkdir "$tmp/jtmp"
set +e
out=$(cd "$tmp" && env -u LD_LIBRARY_PATH java -Xcheck:jni -Djava.io.tmpdir="$tmp/jtmp" \
    -cp "$classpath" example.Main 2>&1)
rc=$?
set -e
sed 's/^/  consumer: /' <<<"$out"
check "the consumer exits 0 and prints OK" test "$rc" -eq 0 -a "$(tail -1 <<<"$out")" = OK
check "the library was loaded from a deleted copy in java.io.tmpdir" \
    grep -qE "^loaded: $tmp/jtmp/libmemkind_fixed_jni[0-9]+\.so \(deleted\)$" <<<"$out"
check "a buffer was found inside the caller's region" \
    grep -qE '^region: buffer of 4096 bytes at offset [0-9]+ of 8388608' <<<"$out"
check "1000 buffers in a mapped region read back" grep -q '^mapped: 1000 buffers' <<<"$out"
check "a request above the region is MemkindOutOfMemoryException code 12" \
    grep -qx 'full: MemkindOutOfMemoryException code 12' <<<"$out"
check "a shared heap's block was read back and freed through a second attachment" \
    grep -qE '^shared: a block of 8192 bytes at offset [0-9]+ read back and freed' <<<"$out"
check "the copy is gone from java.io.tmpdir" test -z "$(ls -A "$tmp/jtmp")"

# 4. A library installed by hand, named by the system property.
cp "$lib" "$tmp/lib/libmemkind_fixed_jni.so"
mkdir "$tmp/jtmp2"
set +e
out=$(cd "$tmp" && java -Dorg.memkind.fixed.library="$tmp/lib/libmemkind_fixed_jni.so" \
    -Djava.io.tmpdir="$tmp/jtmp2" -cp "$classpath" example.Main 2>&1)
rc=$?
set -e
check "-Dorg.memkind.fixed.library loads the named file" \
    test "$rc" -eq 0 -a "$(head -1 <<<"$out")" = "loaded: $tmp/lib/libmemkind_fixed_jni.so"
check "nothing was copied to java.io.tmpdir" test -z "$(ls -A "$tmp/jtmp2")"

# Keep Maven's downloads (not what this run installed) for the next run.
if [ -n "$cache" ]; then
    rm -rf "$repo/org/memkind/fixed" "$repo/example"
    mkdir -p "$cache" && cp -R "$repo/." "$cache/"
fi
echo "java packaging: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
