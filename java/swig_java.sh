#!/usr/bin/env bash
# swig_java.sh INTERFACE HEADER WRAP_C SRCJAR: generate the JNI wrapper (C) and
# the Java classes of package org.memkind.fixed from the SWIG interface; the
# classes go into SRCJAR.
set -euo pipefail
interface=$1 header=$2 wrap_c=$3 srcjar=$4
work=$(dirname "$srcjar")/_swig_java
rm -rf "$work" && mkdir -p "$work/org/memkind/fixed"
swig -java -package org.memkind.fixed -module MemkindFixed \
    -I"$(dirname "$header")" -o "$wrap_c" -outdir "$work/org/memkind/fixed" "$interface"
jar --create --file "$srcjar" --date=2000-01-01T00:00:00Z -C "$work" org
rm -rf "$work"
