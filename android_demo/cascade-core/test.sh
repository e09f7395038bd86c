#!/usr/bin/env bash
# Compiles cascade-core with javac and runs its JUnit 4 tests, without Gradle or Maven:
# what `make test-android-core` runs. Needs a JDK 17 and Debian's junit4 package
# (.ci/run installs it). Class files go to build/javac (ignored by git).
set -euo pipefail
cd "$(dirname "$0")"

JUNIT=${JUNIT_JAR:-/usr/share/java/junit4.jar}
HAMCREST=${HAMCREST_JAR:-/usr/share/java/hamcrest-core.jar}
for jar in "$JUNIT" "$HAMCREST"; do
  if [ ! -f "$jar" ]; then
    echo "test.sh: $jar not found: install Debian's junit4 package (apt-get install junit4)" \
         "or set JUNIT_JAR / HAMCREST_JAR" >&2
    exit 2
  fi
done
command -v javac >/dev/null || { echo "test.sh: no javac: install openjdk-17-jdk-headless" >&2; exit 2; }

OUT=build/javac
rm -rf "$OUT"
mkdir -p "$OUT/main" "$OUT/test"
# --release 17: the API of Java 17; the sources also avoid APIs Android 7 (API 24) lacks.
javac --release 17 -encoding UTF-8 -Xlint:all -Werror -d "$OUT/main" \
  $(find src/main/java -name '*.java' | sort)
javac --release 17 -encoding UTF-8 -Xlint:all -Werror -d "$OUT/test" \
  -cp "$OUT/main:$JUNIT:$HAMCREST" $(find src/test/java -name '*.java' | sort)
tests=$(cd src/test/java && find . -name '*Test.java' | sort | sed 's|^\./||; s|\.java$||; s|/|.|g')
java -cp "$OUT/test:$OUT/main:src/test/resources:$JUNIT:$HAMCREST" msdnet.cascade.RunTests $tests
