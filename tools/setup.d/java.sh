# tools/setup.d/java.sh - sourced by tools/setup.sh ($top, $deps, log, as_root).
# The Java binding (java/, bindings/swig/) needs a JDK 17 (javac, jar, java and the
# JNI headers) and swig; Bazel's tests download nothing else (plain test harness).
# Maven (Debian's, 3.8) makes the jar that users install (java/package.sh, then
# `mvn install`; tests/packaging/java.sh), fetching its pinned plugins and JUnit 5
# from Maven Central when it runs.
# Perl 5 and its headers (perl.h, from libperl5.36) come with Debian's perl package.
java_packages=(openjdk-17-jdk-headless swig perl maven)
java_missing=()
for p in "${java_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || java_missing+=("$p")
done
if [ "${#java_missing[@]}" -gt 0 ]; then
    log "installing for the Java and Perl bindings: ${java_missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${java_missing[@]}" >/dev/null
fi
java_home=$(javac -J-XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.home = //p')
if [ ! -f "$java_home/include/jni.h" ]; then
    echo "setup.d/java.sh: javac on PATH runs on '$java_home', which has no include/jni.h" >&2
    exit 1
fi
log "Java: $(javac -version 2>&1) with JNI headers in $java_home/include; Maven $(dpkg-query -W -f='${Version}' maven)"
