#!/usr/bin/env bash
# public_api_test.sh JAR SRCJAR: the public classes of the jar (as javap lists them)
# are exactly the Java API, and all of them are hand-written (java/src):
#   1. the public classes are FixedKind and SharedKind with their Stats records, the
#      exceptions, and the constants their methods take or report;
#   2. none of them is a class SWIG generated: SRCJAR holds SWIG's output
#      (java/swig_java.sh), whose classes (the module and JNI classes, proxies,
#      pointer wrappers, enums, constants) are all package-private;
#   3. each public constants class has the same fields as its generated twin
#      Swig<name>, which it reads its values from, so that a constant the header gains
#      is not missing from the API.
# Run by Bazel on //java:jar and by tests/packaging/java.sh on the Maven jar.
set -euo pipefail
jar=$1 srcjar=$2
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
twins='MemkindFixedConstants MemkindRegionFlags MemkindRegionMapFlags MemkindRegionPolicy'
fail=0
classes=$(jar --list --file "$jar" | sed -n 's|^\(org/.*\)\.class$|\1|p' | tr / .)
[ -n "$classes" ] || { echo "public_api_test.sh: no classes in $jar" >&2; exit 1; }
generated=$(jar --list --file "$srcjar" | sed -n 's|^\(org/.*\)\.java$|\1|p' | tr / . | sort)
[ -n "$generated" ] || { echo "public_api_test.sh: no sources in $srcjar" >&2; exit 1; }

# javap prints each class's declaration unindented: "public final class org...".
# shellcheck disable=SC2086
public=$(javap -cp "$jar" $classes | sed -nE 's/^public ([a-z]+ )*(class|interface|enum|record) ([^ <]+).*/\3/p' | sort)
if [ "$public" != "$expected" ]; then
    echo "public classes of $jar differ from the API:" >&2
    diff <(echo "$expected") <(echo "$public") >&2 || true
    fail=1
fi

# A nested class (Outer$Inner) comes from Outer's source file.
public_generated=$(comm -12 <(sed 's/\$.*//' <<<"$public" | sort -u) <(echo "$generated"))
if [ -n "$public_generated" ]; then
    echo "public classes of $jar that SWIG generated (in $srcjar):" >&2
    echo "$public_generated" >&2
    fail=1
fi

fields() { # fields CLASS: its public static fields' names, sorted
    javap -cp "$jar" "org.memkind.fixed.$1" | sed -nE 's/^  public static final [a-z]+ ([A-Za-z0-9_]+);$/\1/p' | sort
}
for name in $twins; do
    if ! grep -qx "org.memkind.fixed.Swig$name" <<<"$generated"; then
        echo "$srcjar has no Swig$name, the generated twin of $name" >&2
        fail=1
    elif [ "$(fields "$name")" != "$(fields "Swig$name")" ]; then
        echo "$name's fields (<) differ from its generated twin Swig$name's (>):" >&2
        diff <(fields "$name") <(fields "Swig$name") >&2 || true
        fail=1
    fi
done
[ "$fail" -eq 0 ] || exit 1
echo "$(wc -w <<<"$classes") classes, $(wc -l <<<"$public") public: the API only," \
    "none of SWIG's $(wc -l <<<"$generated"); $(wc -w <<<"$twins") constants classes as their twins"
