#!/usr/bin/env bash
# Compiles cascade-core with javac and runs its JUnit 4 tests, without Gradle or Maven:
# what `make test-android-core` runs. Needs a JDK 17 or newer and Debian's junit4 package
# (.ci/run installs it). Class files go to build/javac (ignored by git).
#
# javac gets exactly the flags build.gradle.kts gives Gradle's JavaCompile (its
# options.release, options.encoding and options.compilerArgs lines, read from the file), so
# a green run here means the Gradle build compiles the same way. JAVA_HOME, if set, picks
# the JDK (e.g. JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 to check a newer one).
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
if [ -n "${JAVA_HOME:-}" ]; then
  JAVAC=$JAVA_HOME/bin/javac
  JAVA=$JAVA_HOME/bin/java
else
  JAVAC=javac
  JAVA=java
fi
command -v "$JAVAC" >/dev/null || { echo "test.sh: no javac: install openjdk-17-jdk-headless" >&2; exit 2; }

# The compiler settings of build.gradle.kts, one line each; anything else there that sets
# the language level (source/targetCompatibility, a toolchain) would make Gradle compile
# differently from this script, so it is refused.
GRADLE_FILE=build.gradle.kts
gradle_setting() { # name, sed expression printing the value; exactly one match required
  local value count
  value=$(sed -n "$2" "$GRADLE_FILE")
  count=$(printf '%s' "$value" | grep -c . || true)
  if [ "$count" != 1 ]; then
    echo "test.sh: expected one '$1' line in $GRADLE_FILE, found $count:" \
         "keep the javac settings where test.sh can read them" >&2
    exit 2
  fi
  printf '%s' "$value"
}
release=$(gradle_setting options.release 's/^ *options\.release\.set(\([0-9][0-9]*\))$/\1/p')
encoding=$(gradle_setting options.encoding 's/^ *options\.encoding = "\([^"]*\)"$/\1/p')
args=$(gradle_setting options.compilerArgs \
  's/^ *options\.compilerArgs\.addAll(listOf(\(.*\)))$/\1/p')
if grep -nE 'Compatibility|toolchain' "$GRADLE_FILE" | grep -v '^[0-9]*: *//' >&2; then
  echo "test.sh: $GRADLE_FILE sets the language level another way than options.release" >&2
  exit 2
fi
JAVAC_FLAGS=(--release "$release" -encoding "$encoding")
while IFS= read -r arg; do
  JAVAC_FLAGS+=("$arg")
done < <(printf '%s\n' "$args" | tr ',' '\n' | sed 's/^ *"//; s/" *$//')
echo "javac $("$JAVAC" -version 2>&1 | cut -d' ' -f2) ${JAVAC_FLAGS[*]} (from $GRADLE_FILE)"

OUT=build/javac
rm -rf "$OUT"
mkdir -p "$OUT/main" "$OUT/test"
# The sources also avoid APIs Android 7 (API 24) lacks; --release checks the Java 17 API.
"$JAVAC" "${JAVAC_FLAGS[@]}" -d "$OUT/main" $(find src/main/java -name '*.java' | sort)
"$JAVAC" "${JAVAC_FLAGS[@]}" -d "$OUT/test" \
  -cp "$OUT/main:$JUNIT:$HAMCREST" $(find src/test/java -name '*.java' | sort)
tests=$(cd src/test/java && find . -name '*Test.java' | sort | sed 's|^\./||; s|\.java$||; s|/|.|g')
# VECTORS_DIR / VECTORS_MODES: run the parity tests on other vectors than the frozen ones in
# src/test/resources/vectors (tests/test_parity_vectors.py passes vectors made from a fresh
# conversion); every mode listed must have vectors there.
props=()
if [ -n "${VECTORS_DIR:-}" ]; then
  props+=("-Dmsdnet.vectors.dir=$VECTORS_DIR" "-Dmsdnet.vectors.modes=${VECTORS_MODES:-float}")
fi
"$JAVA" "${props[@]}" -cp "$OUT/test:$OUT/main:src/test/resources:$JUNIT:$HAMCREST" \
  msdnet.cascade.RunTests $tests
