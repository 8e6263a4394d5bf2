#!/usr/bin/env bash
# run_perl_test.sh MODULE_PM TEST: run TEST with the built module on @INC.
set -euo pipefail
exec perl -I"$(dirname "$1")" "$2"
