#!/usr/bin/env bash
# swig_java.sh INTERFACE HEADER WRAP_C SRCJAR: generate the JNI wrapper (C) and
# the Java classes of package org.memkind.fixed from the SWIG interface; the
# classes go into SRCJAR. Every generated class is package-private: the public
# classes are java/src's.
set -euo pipefail
interface=$1 header=$2 wrap_c=$3 srcjar=$4
work=$(dirname "$srcjar")/_swig_java
out=$work/org/memkind/fixed
rm -rf "$work" && mkdir -p "$out"
swig -java -package org.memkind.fixed -module MemkindFixed \
    -I"$(dirname "$header")" -o "$wrap_c" -outdir "$out" "$interface"
# SWIG 4.1 writes the header's anonymous-enum and #define constants into
# "public interface MemkindFixedConstants" and has no option for its access or name
# (swig/swig#409; SWIG 4.3 adds %pragma(java) constantsmodifiers). That name is the
# API's, java/src's MemkindFixedConstants, which reads its values from this one: so
# this one becomes the package-private SwigMemkindFixedConstants.
if [ -f "$out/MemkindFixedConstants.java" ]; then
    sed -e 's/^public interface MemkindFixedConstants {$/interface SwigMemkindFixedConstants {/' \
        "$out/MemkindFixedConstants.java" >"$out/SwigMemkindFixedConstants.java"
    rm "$out/MemkindFixedConstants.java"
    sed -i -e 's/^\(final class MemkindFixed implements\) MemkindFixedConstants {$/\1 SwigMemkindFixedConstants {/' \
        "$out/MemkindFixed.java"
fi
# Whatever SWIG's version, no generated class may be public, nor use the name of
# java/src's MemkindFixedConstants.
if grep -l -E '^public ' "$out"/*.java >&2 || grep -l -w MemkindFixedConstants "$out"/*.java >&2; then
    echo "swig_java.sh: the files above declare a public class or use the name" \
        "MemkindFixedConstants (see memkind_fixed.i, section 5)" >&2
    exit 1
fi
jar --create --file "$srcjar" --date=2000-01-01T00:00:00Z -C "$work" org
rm -rf "$work"
