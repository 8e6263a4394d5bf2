#!/usr/bin/env bash
# jdk_headers.sh JNI_H JNI_MD_H: copy jni.h and jni_md.h of the JDK that runs the
# `javac` on PATH. The JDK is found now, at build time: no machine path is written
# into the repository.
set -euo pipefail
home=$(javac -J-XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.home = //p')
if [ -z "$home" ] || [ ! -f "$home/include/jni.h" ]; then
    echo "jdk_headers.sh: no JDK with include/jni.h found from javac (java.home='$home');" \
         "run tools/setup.sh" >&2
    exit 1
fi
cp "$home/include/jni.h" "$1"
cp "$home/include/linux/jni_md.h" "$2"
