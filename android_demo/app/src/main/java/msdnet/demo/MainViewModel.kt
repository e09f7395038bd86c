package msdnet.demo

import android.content.Context
import android.content.Intent
import android.graphics.Bitmap
import android.os.Build
import android.util.Log
import androidx.camera.core.ImageProxy
import androidx.core.content.FileProvider
import androidx.lifecycle.ViewModel
import androidx.lifecycle.viewModelScope
import androidx.lifecycle.viewmodel.initializer
import androidx.lifecycle.viewmodel.viewModelFactory
import java.io.File
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import msdnet.cascade.ErrorText
import msdnet.cascade.JsonWriter
import msdnet.cascade.LatencyReport
import msdnet.cascade.ReportOnce

/**
 * Holds the [UiState] (a StateFlow of an immutable data class) and turns user actions and
 * camera frames into calls of [CascadeClassifier], whose work runs on its own thread.
 *
 * A problem that recurs on every camera frame (no runtime, a budget that cannot apply) is
 * shown once ([ReportOnce]) until the settings change or the user acts; a budget that
 * cannot apply also stays on screen in the result's note.
 */
class MainViewModel(
    private val classifier: CascadeClassifier,
    private val appContext: Context,
) : ViewModel() {
    private val state = MutableStateFlow(UiState())
    val uiState: StateFlow<UiState> = state.asStateFlow()

    /** Errors already shown since the last change of settings or action of the user. */
    private val reported = ReportOnce()

    init {
        reopen()
    }

    private fun reopen() {
        reported.reset()
        val requested = state.value.settings.classifierOptions()
        viewModelScope.launch {
            try {
                val opened = classifier.open(requested)
                val outcome = opened.outcome
                // The options that failed are not kept in the settings: what is shown is what runs.
                val fellBackTo = outcome.active?.takeIf { outcome.fellBack() }
                state.update {
                    it.copy(
                        model = ModelInfo.of(opened.files),
                        gpuAvailable = opened.gpuAvailable,
                        settings = fellBackTo?.let { active ->
                            it.settings.copy(accelerator = active.accelerator, threads = active.threads)
                        } ?: it.settings,
                        // Timings of another runner do not hold for this one.
                        benchmark = if (outcome.rebuilt) {
                            it.benchmark.copy(rows = emptyList(), filePath = null)
                        } else {
                            it.benchmark
                        },
                    )
                }
                outcome.message()?.let { showError(it, outcome.error) }
            } catch (e: Exception) {
                showError(ErrorText.of(e), e)
            }
        }
    }

    /**
     * A camera frame. CameraX (KEEP_ONLY_LATEST) delivers no new frame before this one is
     * closed, so frames are classified one at a time and the newest waits its turn.
     */
    fun classify(frame: ImageProxy) {
        val bitmap = try {
            frame.toBitmap()
        } catch (e: Exception) {
            frame.close()
            reportOnce(ErrorText.of(e), e)
            return
        }
        val rotation = frame.imageInfo.rotationDegrees
        viewModelScope.launch {
            try {
                classifyNow(bitmap, rotation)
            } finally {
                frame.close()
            }
        }
    }

    /** A gallery picture: an action of the user, so its problems are shown even if seen before. */
    fun classify(bitmap: Bitmap) {
        reported.reset()
        viewModelScope.launch { classifyNow(bitmap, 0) }
    }

    private suspend fun classifyNow(bitmap: Bitmap, rotationDegrees: Int) {
        try {
            val result = classifier.classify(bitmap, rotationDegrees, state.value.settings.policy())
            state.update { it.copy(result = result) }
            result.policyFallback?.let { reportOnce(it, null) }
        } catch (e: Exception) {
            reportOnce(ErrorText.of(e), e)
        }
    }

    fun setPolicyMode(mode: PolicyMode) = updateSettings { it.copy(policyMode = mode) }

    fun setQ(q: Double) = updateSettings { it.copy(q = q) }

    fun setDeadlineMs(ms: Double) = updateSettings { it.copy(deadlineMs = ms) }

    fun setBudgetMs(ms: Double) = updateSettings { it.copy(budgetMs = ms) }

    fun setInvert(invert: Boolean) {
        updateSettings { it.copy(invert = invert) }
        reopen()
    }

    fun setThreads(threads: Int) {
        updateSettings { it.copy(threads = threads.coerceIn(1, 8)) }
        reopen()
    }

    fun setAccelerator(accelerator: AcceleratorChoice) {
        updateSettings { it.copy(accelerator = accelerator) }
        reopen()
    }

    fun setBenchmarkRuns(warmup: Int, repetitions: Int) = state.update {
        it.copy(benchmark = it.benchmark.copy(warmup = warmup.coerceIn(0, 1000),
            repetitions = repetitions.coerceIn(1, 10000)))
    }

    private fun updateSettings(change: (Settings) -> Settings) {
        reported.reset()
        state.update { it.copy(settings = change(it.settings)) }
    }

    /** Times every exit on this phone and writes latency.json (same format as the desktop). */
    fun runBenchmark() {
        val runs = state.value.benchmark
        if (runs.running) return
        reported.reset()
        state.update { it.copy(benchmark = it.benchmark.copy(running = true, done = 0, total = 0)) }
        viewModelScope.launch {
            try {
                val run = classifier.benchmark(runs.warmup, runs.repetitions) { done, total ->
                    state.update { it.copy(benchmark = it.benchmark.copy(done = done, total = total)) }
                }
                // Labelled with the options the runner was built for, which are what ran.
                val accelerator = run.options.accelerator.name.lowercase()
                val report = if (run.results.size == 1) {
                    LatencyReport.toJson(run.results.values.first(), run.manifest, deviceName(),
                        run.options.threads, accelerator)
                } else {
                    LatencyReport.toJson(run.results, run.manifest, deviceName(), run.options.threads,
                        accelerator)
                }
                val json = JsonWriter.write(report)
                val file = withContext(Dispatchers.IO) { writeLatency(json, run.options) }
                Log.i(TAG, "latency.json written to $file:\n$json")
                state.update {
                    it.copy(benchmark = it.benchmark.copy(
                        running = false,
                        filePath = file.absolutePath,
                        rows = run.results.flatMap { (side, result) ->
                            result.exits.map { e ->
                                ExitLatency(side, e.exit, e.stage.medianMs, e.stage.p95Ms, e.path.medianMs,
                                    e.path.p95Ms)
                            }
                        },
                    ))
                }
            } catch (e: Exception) {
                state.update { it.copy(benchmark = it.benchmark.copy(running = false)) }
                showError(ErrorText.of(e), e)
            }
        }
    }

    private fun writeLatency(json: String, options: RuntimeOptions): File {
        val dir = File(appContext.cacheDir, "latency").apply { mkdirs() }
        val name = "latency_${options.threads}t_${options.accelerator.name.lowercase()}.json"
        return File(dir, name).apply { writeText(json) }
    }

    /** An intent that shares the last latency.json (e-mail, Drive, Files, adb-free). */
    fun shareLatencyIntent(): Intent? {
        val path = state.value.benchmark.filePath ?: return null
        val uri = FileProvider.getUriForFile(appContext, "${appContext.packageName}.files", File(path))
        val send = Intent(Intent.ACTION_SEND).apply {
            type = "application/json"
            putExtra(Intent.EXTRA_STREAM, uri)
            putExtra(Intent.EXTRA_SUBJECT, "MSDNet latency.json (${deviceName()})")
            addFlags(Intent.FLAG_GRANT_READ_URI_PERMISSION)
        }
        return Intent.createChooser(send, "latency.json")
    }

    fun errorShown() = state.update { it.copy(errorMessage = null) }

    private fun showError(message: String, cause: Throwable?) {
        Log.e(TAG, message, cause)
        state.update { it.copy(errorMessage = message) }
    }

    /** Shows [message] unless it was shown since the last reset (it recurs on every frame). */
    private fun reportOnce(message: String, cause: Throwable?) {
        if (reported.firstTime(message)) {
            showError(message, cause)
        }
    }

    override fun onCleared() {
        // viewModelScope is already cancelled: release the runtime on a scope of its own.
        CoroutineScope(Dispatchers.Default).launch { classifier.close() }
    }

    companion object {
        private const val TAG = "MsdnetDemo"

        fun factory(context: Context) = viewModelFactory {
            initializer {
                MainViewModel(CascadeClassifier(context.applicationContext), context.applicationContext)
            }
        }

        fun deviceName(): String {
            val soc = if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.S) " (${Build.SOC_MODEL})" else ""
            return "${Build.MANUFACTURER} ${Build.MODEL}$soc, Android ${Build.VERSION.RELEASE}"
        }
    }
}
