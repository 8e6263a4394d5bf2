#!/usr/bin/env bash
# run_java_test.sh JNI_LIBRARY MAIN_CLASS JAR... [-- ARG...]: run a Java test program
# with the JNI library found through -Djava.library.path, as an application would;
# the ARGs after -- go to the program.
# -Xcheck:jni makes the JVM check every JNI call the wrapper makes.
set -euo pipefail
lib=$1 main=$2
shift 2
jars=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
    jars+=("$1")
    shift
done
[ $# -gt 0 ] && shift
classpath=$(IFS=:; echo "${jars[*]}")
exec java -Xcheck:jni -Djava.library.path="$(cd "$(dirname "$lib")" && pwd)" \
    -cp "$classpath" "$main" "$@"
