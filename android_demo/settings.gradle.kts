// MSDNet early-exit demo: the Android app (:app) and its plain-Java cascade logic
// (:cascade-core, also built and tested without Gradle by `make test-android-core`).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "msdnet-demo"
include(":app", ":cascade-core")
