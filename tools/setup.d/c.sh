# tools/setup.d/c.sh - sourced by tools/setup.sh ($top, $deps, log, as_root).
# What tests/packaging/c.sh needs to use the installed C library as its users do:
# CMake (the find_package consumer), man-db and groff (the manual pages must be
# found by `man -w` and render without warnings), binutils' readelf and strip
# (build-essential has them). Debian 12's versions: cmake 3.25, man-db 2.11,
# groff-base 1.22.4.
c_packages=(cmake man-db groff-base)
c_missing=()
for p in "${c_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || c_missing+=("$p")
done
if [ "${#c_missing[@]}" -gt 0 ]; then
    log "installing for the C packaging check: ${c_missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${c_missing[@]}" >/dev/null
fi
