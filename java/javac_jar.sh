#!/usr/bin/env bash
# javac_jar.sh OUT_JAR CLASSPATH SOURCE...: compile Java sources (files, or .srcjar
# archives of sources) against CLASSPATH (":" for none) into OUT_JAR.
# Warnings are errors.
set -euo pipefail
out=$1 classpath=$2
shift 2
work=$(dirname "$out")/_javac_$(basename "$out" .jar)
rm -rf "$work" && mkdir -p "$work/src" "$work/classes"
top=$PWD
sources=()
for s in "$@"; do
    case $s in
    *.srcjar) (cd "$work/src" && jar --extract --file "$top/$s") ;;
    *.java) sources+=("$s") ;;
    *) echo "javac_jar.sh: not a source: $s" >&2; exit 1 ;;
    esac
done
while IFS= read -r f; do sources+=("$f"); done < <(find "$work/src" -name '*.java' | sort)
javac --release 17 -Xlint:all -Werror -encoding UTF-8 -cp "$classpath" -d "$work/classes" "${sources[@]}"
jar --create --file "$out" --date=2000-01-01T00:00:00Z -C "$work/classes" .
rm -rf "$work"
