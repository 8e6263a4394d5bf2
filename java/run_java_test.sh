#!/usr/bin/env bash
# run_java_test.sh JNI_LIBRARY MAIN_CLASS JAR...: run a Java test program with the
# JNI library found through -Djava.library.path, as an application would.
# -Xcheck:jni makes the JVM check every JNI call the wrapper makes.
set -euo pipefail
lib=$1 main=$2
shift 2
classpath=$(IFS=:; echo "$*")
exec java -Xcheck:jni -Djava.library.path="$(cd "$(dirname "$lib")" && pwd)" \
    -cp "$classpath" "$main"
