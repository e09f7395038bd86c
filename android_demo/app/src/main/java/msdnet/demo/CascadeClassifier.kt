package msdnet.demo

import android.content.Context
import android.graphics.Bitmap
import java.util.concurrent.Executors
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.withContext
import msdnet.cascade.BudgetPolicy
import msdnet.cascade.CascadeRuntime
import msdnet.cascade.Clock
import msdnet.cascade.ErrorText
import msdnet.cascade.ImageFit
import msdnet.cascade.ImageU8
import msdnet.cascade.LatencyBenchmark
import msdnet.cascade.Manifest
import msdnet.cascade.Preprocessor

/** What the cascade answered for one image, ready to show. */
data class Classification(
    /** The input side the cascade ran at (the camera frame resized to it). */
    val resolution: Int,
    val label: String,
    val confidence: Double,
    val exit: Int,
    val numExits: Int,
    val latencyMs: Double,
    val stageMs: List<Double>,
    /** Share of the last exit's FLOPs this answer did not spend. */
    val flopsSaved: Double,
    /** Measured path time of the last exit minus that of the exit taken, if benchmarked. */
    val latencySavedMs: Double?,
    val policyNote: String,
    /** Why the chosen budget could not apply (every stage ran instead), or null. */
    val policyFallback: String?,
)

/** What a runner is built for: changing either rebuilds it. Named to the user by toString. */
data class RuntimeOptions(val accelerator: AcceleratorChoice, val threads: Int) {
    override fun toString() = when (accelerator) {
        AcceleratorChoice.CPU -> "CPU, $threads thread${if (threads == 1) "" else "s"}"
        AcceleratorChoice.GPU -> "GPU"
    }
}

/** What [CascadeClassifier.open] did: the model files, the runtime's outcome, the GPU's presence. */
class Opened(
    val files: ModelAssets,
    val outcome: CascadeRuntime.Outcome<RuntimeOptions>,
    val gpuAvailable: Boolean,
)

/** A benchmark's timings (per input side) and the runtime options they were measured with. */
class BenchmarkRun(
    val results: Map<Int, LatencyBenchmark.Result>,
    val manifest: Manifest,
    val options: RuntimeOptions,
)

/**
 * All the machine learning of the app, in the manner of the LiteRT samples' helper class:
 * the model files, the LiteRT runtime, the cascade (cascade-core) and its policies, run on
 * one background thread of their own. Everything but the runtime is cascade-core, the
 * code the JUnit tests check: [CascadeRuntime] rebuilds the runner when the options change
 * and falls back to the last options that worked, [BudgetPolicy] picks thresholds and
 * deadline and falls back to the last exit when the chosen policy lacks its input.
 */
class CascadeClassifier(private val context: Context) {
    data class Options(
        val accelerator: AcceleratorChoice = AcceleratorChoice.CPU,
        val threads: Int = DEFAULT_THREADS,
        /** Make dark-on-light photos light-on-dark, like Fashion-MNIST and the digits. */
        val invert: Boolean = false,
    ) {
        val runtime get() = RuntimeOptions(accelerator, threads)
    }

    private val executor = Executors.newSingleThreadExecutor { r -> Thread(r, "cascade-inference") }
    private val inferenceThread = executor.asCoroutineDispatcher()

    // Touched only on the inference thread. One runtime and preprocessor per input side
    // (one of each for an ordinary model), keyed by side, largest first.
    private var assets: ModelAssets? = null
    private var loadError: Exception? = null
    private var runtimes: Map<Int, CascadeRuntime<RuntimeOptions>> = emptyMap()
    private var preprocessors: Map<Int, Preprocessor> = emptyMap()
    private var invert = false
    private var gpuAvailable: Boolean? = null
    private val lastInputs = mutableMapOf<Int, FloatArray>()

    /**
     * Loads the model files once and makes every side's runtime match [options]: a runner
     * that cannot be built leaves the previous options running, and the outcome (of the
     * largest side; the others follow it) says why.
     */
    suspend fun open(options: Options): Opened = withContext(inferenceThread) {
        val files = assets ?: load()
        invert = options.invert
        val gpu = gpuAvailable ?: LiteRtStageRunner.gpuAvailable().also { gpuAvailable = it }
        val outcomes = runtimes.mapValues { (_, runtime) -> runtime.open(options.runtime) }
        Opened(files, outcomes.getValue(files.manifest.resolution), gpu)
    }

    private fun load(): ModelAssets {
        val files = try {
            ModelAssets.load(context.assets)
        } catch (e: Exception) {
            loadError = e
            throw e
        }
        loadError = null
        val sides = files.manifest.resolutions.associateWith { files.manifest.forResolution(it) }
        preprocessors = sides.mapValues { (_, m) -> Preprocessor(m.preprocessing) }
        runtimes = sides.mapValues { (_, m) ->
            CascadeRuntime(m, CascadeRuntime.Factory<RuntimeOptions> { o ->
                LiteRtStageRunner(context.assets, m, o.accelerator, o.threads)
            })
        }
        assets = files
        return files
    }

    private fun notLoaded() = IllegalStateException(
        loadError?.let { "the model is not loaded: ${ErrorText.of(it)}" } ?: "the model is not loaded"
    )

    /** Classifies one photo, on the inference thread (pixels, preprocessing and stages). */
    suspend fun classify(bitmap: Bitmap, rotationDegrees: Int, policy: BudgetPolicy): Classification =
        withContext(inferenceThread) {
            val files = assets ?: throw notLoaded()
            val side = files.manifest.input.dim(1)
            val rgb = BitmapImages.toRgb(bitmap, rotationDegrees, maxOf(4 * side, 256))
            classifyRgb(files, rgb, policy)
        }

    private fun classifyRgb(files: ModelAssets, rgb: ImageU8, policy: BudgetPolicy): Classification {
        val largest = files.manifest.resolution
        val measured = runtimes.getValue(largest).measured()
        val pathMs = runtimes.mapNotNull { (side, r) -> r.measured()?.let { side to it.pathMedians() } }
            .toMap()
        val budget = policy.resolve(files.thresholds, files.thresholdsSource, files.budgets, measured,
            files.curves, pathMs)
        // The side the budget chose (or the thresholds were made for), else the largest; the
        // camera frame is resized to it by that side's preprocessing.
        val side = budget.resolution ?: largest
        val runtime = runtimes.getValue(side)
        val cascade = runtime.cascade() // throws with the reason when no runner could be built
        val manifest = files.manifest.forResolution(side)
        val image = ImageFit.toDatasetImage(rgb, manifest.preprocessing, invert)
        val input = preprocessors.getValue(side).apply(image)
        lastInputs[side] = input
        val d = cascade.classify(input, budget.thresholds, budget.deadline)
        val paths = runtime.measured()?.pathMedians()
        val lastFlops = files.manifest.cumulativeFlops().last()
        return Classification(
            resolution = side,
            label = manifest.label(d.prediction),
            confidence = d.confidence,
            exit = d.exit,
            numExits = manifest.numExits,
            latencyMs = d.latencyMs,
            stageMs = d.stageMs().toList(),
            // Against the largest side's last exit: what a single-resolution model spends.
            flopsSaved = 1.0 - manifest.exits[d.exit].cumulativeFlops / lastFlops,
            latencySavedMs = paths?.let { it.last() - it[d.exit] },
            policyNote = budget.note,
            policyFallback = budget.fallback,
        )
    }

    /**
     * Times every stage and path of every input side on this phone ([LatencyBenchmark]) on
     * the last image classified at that side (a gray image if none yet); the results also
     * feed the deadline and latency-budget policies.
     */
    suspend fun benchmark(warmup: Int, repetitions: Int, progress: (Int, Int) -> Unit): BenchmarkRun =
        withContext(inferenceThread) {
            val files = assets ?: throw notLoaded()
            val largest = runtimes.getValue(files.manifest.resolution)
            val options = checkNotNull(largest.active())
            val sides = runtimes.keys.toList()
            val results = linkedMapOf<Int, LatencyBenchmark.Result>()
            sides.forEachIndexed { i, side ->
                val runtime = runtimes.getValue(side)
                val input = lastInputs[side] ?: grayInput(files, side)
                val result = LatencyBenchmark.run(runtime.cascade(), input, warmup, repetitions,
                    Clock.SYSTEM) { done, total -> progress(i * total + done, sides.size * total) }
                runtime.setMeasured(result)
                results[side] = result
            }
            BenchmarkRun(results, files.manifest, options)
        }

    private fun grayInput(files: ModelAssets, side: Int): FloatArray {
        val spec = files.manifest.forResolution(side).preprocessing
        val h = if (spec.hasFixedInputSize()) spec.inputHeight else 2 * spec.outputHeight
        val w = if (spec.hasFixedInputSize()) spec.inputWidth else 2 * spec.outputWidth
        val pixels = ByteArray(h * w * spec.channelsIn) { 128.toByte() }
        return preprocessors.getValue(side).apply(ImageU8(h, w, spec.channelsIn, pixels))
    }

    suspend fun close() {
        withContext(inferenceThread) { runtimes.values.forEach { it.close() } }
        executor.shutdown()
    }

    companion object {
        const val DEFAULT_THREADS = 2
    }
}
