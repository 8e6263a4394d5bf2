#!/usr/bin/env bash
# public_api_test.sh JAR: the public classes of the jar (as javap lists them) are
# exactly the Java API: FixedKind and SharedKind with their Stats records, the
# exceptions, and the constants their methods take or report. Every class SWIG
# generates for the layer under them (the module and JNI classes, proxies, pointer
# wrappers, other enums) is package-private. Run by Bazel on //java:jar and by
# tests/packaging/java.sh on the Maven jar.
set -euo pipefail
jar=$1
expected='org.memkind.fixed.FixedKind
org.memkind.fixed.FixedKind$Stats
org.memkind.fixed.MemkindException
org.memkind.fixed.MemkindFixedConstants
org.memkind.fixed.MemkindOutOfMemoryException
org.memkind.fixed.MemkindRegionFlags
org.memkind.fixed.MemkindRegionMapFlags
org.memkind.fixed.MemkindRegionPolicy
org.memkind.fixed.SharedKind
org.memkind.fixed.SharedKind$Stats'
classes=$(jar --list --file "$jar" | sed -n 's|^\(org/.*\)\.class$|\1|p' | tr / .)
[ -n "$classes" ] || { echo "public_api_test.sh: no classes in $jar" >&2; exit 1; }
# javap prints each class's declaration unindented: "public final class org...".
# shellcheck disable=SC2086
public=$(javap -cp "$jar" $classes | sed -nE 's/^public ([a-z]+ )*(class|interface|enum|record) ([^ <]+).*/\3/p' | sort)
if [ "$public" != "$expected" ]; then
    echo "public classes of $jar differ from the API:" >&2
    diff <(echo "$expected") <(echo "$public") >&2 || true
    exit 1
fi
echo "$(wc -w <<<"$classes") classes, $(wc -l <<<"$public") public: the API only"
