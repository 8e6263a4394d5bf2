#!/usr/bin/env bash
# merge_archives.sh OUT IN... : one static archive holding the members of every
# input archive (.a) that is not a PIC duplicate; used for libmemkind_fixed.a.
set -euo pipefail
out=$1; shift
script="create $out"
for a in "$@"; do
    case "$a" in
        *.pic.a | *.pic.lo) continue ;;
        *.a | *.lo) script+=$'\n'"addlib $a" ;;
    esac
done
script+=$'\nsave\nend'
rm -f "$out"
ar -M <<<"$script"
