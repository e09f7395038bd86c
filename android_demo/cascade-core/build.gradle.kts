// The cascade logic in plain Java 17, no Android imports: the app depends on it, and
// `make test-android-core` compiles and tests the same sources with javac (test.sh).
// Sources use only APIs Android 7.0 (API 24) has.
plugins {
    `java-library`
}

// javac's --release, not source/targetCompatibility: Gradle passes those as -source/-target,
// and a JDK newer than 17 (Android Studio bundles JDK 21) then warns that the location of
// system modules is not set, which -Werror turns into an error. --release compiles against
// the Java 17 API from any JDK 17 or newer (and takes precedence over those two settings).
// test.sh reads the three settings below from this file and compiles with exactly them.
tasks.withType<JavaCompile>().configureEach {
    options.release.set(17)
    options.encoding = "UTF-8"
    options.compilerArgs.addAll(listOf("-Xlint:all", "-Werror"))
}

dependencies {
    testImplementation(libs.junit)
}

tasks.test {
    useJUnit()
    testLogging {
        events("failed", "skipped")
        exceptionFormat = org.gradle.api.tasks.testing.logging.TestExceptionFormat.FULL
    }
}
