import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

android {
    namespace = "msdnet.demo"
    compileSdk = 36

    defaultConfig {
        applicationId = "msdnet.demo"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    buildFeatures {
        compose = true
    }
    // Keep the model stored, not deflated, in the APK. CompiledModel.create(assets, name, ...)
    // opens it through the AssetManager and reads it whole into a buffer of its own (it is
    // not memory-mapped): a stored asset is read as is, a compressed one inflated first.
    androidResources {
        noCompress += listOf("tflite")
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
    }
}

/**
 * Copies the converted model into the app's assets: cascade.tflite and manifest.json
 * (required), the cascade of every other input side of a resolution-switchable model
 * (cascade_r<R>.tflite), thresholds.json and budgeted.json (optional) from the directory named by
 * `-PmodelDir=...` (a tflite/convert.py output directory). `-PbudgetedJson=FILE` adds the
 * budgeted curve msdnet_tf.evaluate wrote, if it is not in that directory. Both take an
 * absolute path or one relative to android_demo/ (the root project; resolved there, not in
 * the Gradle daemon's working directory). Nothing is committed: the files land in
 * build/generated.
 */
abstract class CopyModelAssets : DefaultTask() {
    @get:Input
    @get:Optional
    abstract val modelDir: Property<String>

    @get:Input
    @get:Optional
    abstract val budgetedJson: Property<String>

    @get:OutputDirectory
    abstract val outputDir: DirectoryProperty

    @TaskAction
    fun copy() {
        val dirName = modelDir.orNull ?: throw GradleException(
            "no model to bundle: build with -PmodelDir=/path/to/converted/model (the --output " +
                "directory of tflite/convert.py), or set modelDir in ~/.gradle/gradle.properties"
        )
        val dir = File(dirName)
        val out = outputDir.get().asFile
        out.deleteRecursively()
        out.mkdirs()
        for (name in listOf("cascade.tflite", "manifest.json")) {
            val file = File(dir, name)
            if (!file.isFile) {
                throw GradleException("$file not found: is $dir the --output of tflite/convert.py?")
            }
            file.copyTo(File(out, name))
        }
        // The other sides of a resolution-switchable model (manifest.json lists them).
        dir.listFiles { f -> f.isFile && Regex("cascade_r\\d+\\.tflite").matches(f.name) }
            ?.forEach { it.copyTo(File(out, it.name)) }
        File(dir, "thresholds.json").takeIf { it.isFile }?.copyTo(File(out, "thresholds.json"))
        val budgeted = budgetedJson.orNull?.let { File(it) } ?: File(dir, "budgeted.json")
        if (budgetedJson.isPresent && !budgeted.isFile) {
            throw GradleException("-PbudgetedJson: $budgeted not found")
        }
        budgeted.takeIf { it.isFile }?.copyTo(File(out, "budgeted.json"))
        logger.lifecycle("Bundled model from $dir: ${out.list()?.sorted()}")
    }
}

// Relative -PmodelDir / -PbudgetedJson paths are taken from android_demo/, where ./gradlew runs.
val demoDir: File = rootDir

val copyModelAssets = tasks.register<CopyModelAssets>("copyModelAssets") {
    description = "Copies the converted model named by -PmodelDir into the app's assets."
    modelDir.set(providers.gradleProperty("modelDir").map { demoDir.resolve(it).path })
    budgetedJson.set(providers.gradleProperty("budgetedJson").map { demoDir.resolve(it).path })
    // The model files change without their directory name changing: always copy.
    outputs.upToDateWhen { false }
}

androidComponents {
    onVariants { variant ->
        variant.sources.assets?.addGeneratedSourceDirectory(copyModelAssets, CopyModelAssets::outputDir)
    }
}

// LiteRT's GPU accelerator, from 2.3.0 the separate litert-gpu artifact: bundled unless
// -PlitertGpu=false (or litertGpu=false in a gradle.properties), which builds a smaller,
// CPU-only app. The app asks LiteRT at run time whether a GPU accelerator is there and
// offers the GPU only then.
val litertGpu = providers.gradleProperty("litertGpu").orElse("true").map {
    it.toBooleanStrictOrNull() ?: throw GradleException("-PlitertGpu must be true or false, not \"$it\"")
}.get()

dependencies {
    implementation(project(":cascade-core"))
    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.lifecycle.runtime.ktx)
    implementation(libs.androidx.lifecycle.runtime.compose)
    implementation(libs.androidx.lifecycle.viewmodel.compose)
    implementation(libs.androidx.activity.compose)
    implementation(platform(libs.androidx.compose.bom))
    implementation(libs.androidx.compose.ui)
    implementation(libs.androidx.compose.ui.graphics)
    implementation(libs.androidx.compose.ui.tooling.preview)
    implementation(libs.androidx.compose.material3)
    implementation(libs.androidx.camera.core)
    implementation(libs.androidx.camera.camera2)
    implementation(libs.androidx.camera.lifecycle)
    implementation(libs.androidx.camera.view)
    implementation(libs.kotlinx.coroutines.android)
    implementation(libs.litert)
    if (litertGpu) {
        implementation(libs.litert.gpu)
    }
    debugImplementation(libs.androidx.compose.ui.tooling)
}
