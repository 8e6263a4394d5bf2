#!/usr/bin/env bash
# build_perl.sh CC INTERFACE HEADER ARCHIVE OUT_PM OUT_SO: generate the Perl 5
# module from the SWIG interface and build its XS library, linking the core
# (ARCHIVE, //core:static_archive) statically. Perl's headers and compiler flags
# are read from the perl on PATH at build time.
set -euo pipefail
cc=$1 interface=$2 header=$3 archive=$4 out_pm=$5 out_so=$6
work=$(dirname "$out_so")/_perl_build
rm -rf "$work" && mkdir -p "$work"
swig -perl5 -I"$(dirname "$header")" -o "$work/memkind_fixed_perl.c" -outdir "$work" "$interface"
core=$(perl -MConfig -e 'print "$Config{archlib}/CORE"')
read -r -a perl_flags <<<"$(perl -MConfig -e 'print "$Config{ccflags} $Config{cccdlflags}"')"
"$cc" -std=gnu11 -O2 -g -Wall -Wno-unused-parameter -I"$core" -I"$(dirname "$header")" \
    "${perl_flags[@]}" -c "$work/memkind_fixed_perl.c" -o "$work/memkind_fixed_perl.o"
# Perl's own symbols resolve against the perl binary at load time (no -z defs).
# The core stays private (--exclude-libs).
"$cc" -shared -o "$out_so" "$work/memkind_fixed_perl.o" "$archive" \
    -Wl,--exclude-libs,ALL -lnuma -lpthread -ldl -lm
cp "$work/memkind_fixed.pm" "$out_pm"
rm -rf "$work"
