package msdnet.demo

import android.content.Context
import android.graphics.Bitmap
import java.util.concurrent.Executors
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.withContext
import msdnet.cascade.Cascade
import msdnet.cascade.DeadlinePolicy
import msdnet.cascade.ImageFit
import msdnet.cascade.ImageU8
import msdnet.cascade.LatencyBenchmark
import msdnet.cascade.Preprocessor
import msdnet.cascade.Thresholds

/** How the cascade decides where an image leaves. */
sealed interface BudgetPolicy {
    /** The thresholds shipped with the model (thresholds.json or the manifest's). */
    data object ShippedThresholds : BudgetPolicy

    /** The paper's exit-share q: the thresholds of the nearest q of budgeted.json. */
    data class ExitShare(val q: Double) : BudgetPolicy

    /** Anytime: go on only while the next stage fits [ms] (costs measured on this phone). */
    data class Deadline(val ms: Double) : BudgetPolicy

    /** Every stage runs; the baseline the savings are measured against. */
    data object LastExit : BudgetPolicy
}

/** What the cascade answered for one image, ready to show. */
data class Classification(
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
)

/**
 * All the machine learning of the app, in the manner of the LiteRT samples' helper class:
 * the model files, the LiteRT runtime, the cascade (cascade-core) and its policies, run on
 * one background thread of their own. Everything but the runtime is cascade-core, the
 * code the JUnit tests check against the Python side.
 */
class CascadeClassifier(private val context: Context) {
    data class Options(
        val accelerator: AcceleratorChoice = AcceleratorChoice.CPU,
        val threads: Int = DEFAULT_THREADS,
        /** Make dark-on-light photos light-on-dark, like Fashion-MNIST and the digits. */
        val invert: Boolean = false,
    )

    private val executor = Executors.newSingleThreadExecutor { r -> Thread(r, "cascade-inference") }
    private val inferenceThread = executor.asCoroutineDispatcher()

    private var assets: ModelAssets? = null
    private var runner: LiteRtStageRunner? = null
    private var cascade: Cascade? = null
    private var preprocessor: Preprocessor? = null
    private var options = Options()
    private var lastInput: FloatArray? = null

    /** This phone's latencies from the benchmark screen (for the same options), or null. */
    @Volatile
    var measured: LatencyBenchmark.Result? = null
        private set

    /** Loads the model files once and (re)builds the runtime for [options]. */
    suspend fun open(options: Options): ModelAssets = withContext(inferenceThread) {
        val files = assets ?: ModelAssets.load(context.assets).also { assets = it }
        val changed = options.accelerator != this@CascadeClassifier.options.accelerator ||
            options.threads != this@CascadeClassifier.options.threads
        if (runner == null || changed) {
            runner?.close()
            runner = null
            val newRunner = LiteRtStageRunner(context.assets, files.manifest, options.accelerator,
                options.threads)
            runner = newRunner
            cascade = Cascade(files.manifest, newRunner)
            measured = null // timings of other settings do not hold
        }
        preprocessor = Preprocessor(files.manifest.preprocessing)
        this@CascadeClassifier.options = options
        files
    }

    /** Classifies one photo, on the inference thread (pixels, preprocessing and stages). */
    suspend fun classify(bitmap: Bitmap, rotationDegrees: Int, policy: BudgetPolicy): Classification =
        withContext(inferenceThread) {
            val files = assets ?: throw IllegalStateException("the model is not loaded")
            val side = files.manifest.input.dim(1)
            val rgb = BitmapImages.toRgb(bitmap, rotationDegrees, maxOf(4 * side, 256))
            classifyRgb(files, rgb, policy)
        }

    private fun classifyRgb(files: ModelAssets, rgb: ImageU8, policy: BudgetPolicy): Classification {
        val cascade = cascade ?: throw IllegalStateException("the runtime is not ready")
        val manifest = files.manifest
        val image = ImageFit.toDatasetImage(rgb, manifest.preprocessing, options.invert)
        val input = preprocessor!!.apply(image)
        lastInput = input
        val (thresholds, deadline, note) = resolve(files, policy)
        val d = cascade.classify(input, thresholds, deadline)
        val paths = measured?.pathMedians()
        return Classification(
            label = manifest.label(d.prediction),
            confidence = d.confidence,
            exit = d.exit,
            numExits = manifest.numExits,
            latencyMs = d.latencyMs,
            stageMs = d.stageMs().toList(),
            flopsSaved = manifest.flopsSaved(d.exit),
            latencySavedMs = paths?.let { it.last() - it[d.exit] },
            policyNote = note,
        )
    }

    private fun resolve(files: ModelAssets, policy: BudgetPolicy): Triple<Thresholds?, DeadlinePolicy?, String> =
        when (policy) {
            BudgetPolicy.ShippedThresholds -> {
                val t = files.thresholds ?: throw IllegalStateException(
                    "no thresholds were bundled (thresholds.json): pick q or a deadline"
                )
                Triple(t, null, "thresholds from ${files.thresholdsSource}")
            }
            is BudgetPolicy.ExitShare -> {
                val table = files.budgets ?: throw IllegalStateException(
                    "no budgeted.json was bundled: rebuild with -PbudgetedJson=RUN/budgeted.json"
                )
                val p = table.nearest(policy.q)
                Triple(p.thresholds, null, "q = %.2f: hold-out thresholds; on the test set %.1f%% top-1, %.2f MFLOPs per image"
                    .format(p.q, p.testAccuracy, p.expectedFlops / 1e6))
            }
            is BudgetPolicy.Deadline -> {
                val timings = measured ?: throw IllegalStateException(
                    "a deadline needs this phone's stage latencies: run the benchmark first"
                )
                val deadline = DeadlinePolicy(policy.ms, timings.stageMedians())
                val note = "deadline %.1f ms (deepest exit that always fits: exit_%d)".format(
                    policy.ms, DeadlinePolicy.deepestExitWithin(policy.ms, timings.pathMedians()))
                Triple(files.thresholds, deadline, if (files.thresholds != null) "$note, with thresholds" else note)
            }
            BudgetPolicy.LastExit -> Triple(null, null, "every stage runs")
        }

    /**
     * Times every stage and path on this phone ([LatencyBenchmark]) on the last image
     * classified (a gray image if none yet); the result also feeds the deadline policy.
     */
    suspend fun benchmark(warmup: Int, repetitions: Int, progress: (Int, Int) -> Unit): LatencyBenchmark.Result =
        withContext(inferenceThread) {
            val files = assets ?: throw IllegalStateException("the model is not loaded")
            val cascade = cascade ?: throw IllegalStateException("the runtime is not ready")
            val input = lastInput ?: grayInput(files)
            LatencyBenchmark.run(cascade, input, warmup, repetitions, msdnet.cascade.Clock.SYSTEM) { done, total ->
                progress(done, total)
            }.also { measured = it }
        }

    private fun grayInput(files: ModelAssets): FloatArray {
        val spec = files.manifest.preprocessing
        val h = if (spec.hasFixedInputSize()) spec.inputHeight else 2 * spec.outputHeight
        val w = if (spec.hasFixedInputSize()) spec.inputWidth else 2 * spec.outputWidth
        val pixels = ByteArray(h * w * spec.channelsIn) { 128.toByte() }
        return preprocessor!!.apply(ImageU8(h, w, spec.channelsIn, pixels))
    }

    fun currentOptions(): Options = options

    suspend fun close() {
        withContext(inferenceThread) {
            runner?.close()
            runner = null
            cascade = null
        }
        executor.shutdown()
    }

    companion object {
        const val DEFAULT_THREADS = 2
    }
}
