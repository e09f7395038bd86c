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
import msdnet.cascade.JsonWriter
import msdnet.cascade.LatencyReport

/**
 * Holds the [UiState] (a StateFlow of an immutable data class) and turns user actions and
 * camera frames into calls of [CascadeClassifier], whose work runs on its own thread.
 */
class MainViewModel(
    private val classifier: CascadeClassifier,
    private val appContext: Context,
) : ViewModel() {
    private val state = MutableStateFlow(UiState())
    val uiState: StateFlow<UiState> = state.asStateFlow()

    init {
        reopen()
    }

    private fun reopen() {
        viewModelScope.launch {
            try {
                val files = classifier.open(state.value.settings.classifierOptions())
                state.update { it.copy(model = ModelInfo.of(files), benchmark = it.benchmark.copy(rows = emptyList(), filePath = null)) }
            } catch (e: Exception) {
                showError(e)
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
            showError(e)
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

    /** A gallery picture. */
    fun classify(bitmap: Bitmap) {
        viewModelScope.launch { classifyNow(bitmap, 0) }
    }

    private suspend fun classifyNow(bitmap: Bitmap, rotationDegrees: Int) {
        try {
            val result = classifier.classify(bitmap, rotationDegrees, state.value.settings.policy())
            state.update { it.copy(result = result) }
        } catch (e: Exception) {
            showError(e)
        }
    }

    fun setPolicyMode(mode: PolicyMode) = updateSettings { it.copy(policyMode = mode) }

    fun setQ(q: Double) = updateSettings { it.copy(q = q) }

    fun setDeadlineMs(ms: Double) = updateSettings { it.copy(deadlineMs = ms) }

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

    private fun updateSettings(change: (Settings) -> Settings) =
        state.update { it.copy(settings = change(it.settings)) }

    /** Times every exit on this phone and writes latency.json (same format as the desktop). */
    fun runBenchmark() {
        val settings = state.value.settings
        val runs = state.value.benchmark
        if (runs.running) return
        state.update { it.copy(benchmark = it.benchmark.copy(running = true, done = 0, total = 0)) }
        viewModelScope.launch {
            try {
                val result = classifier.benchmark(runs.warmup, runs.repetitions) { done, total ->
                    state.update { it.copy(benchmark = it.benchmark.copy(done = done, total = total)) }
                }
                val files = classifier.open(settings.classifierOptions())
                val json = JsonWriter.write(LatencyReport.toJson(result, files.manifest, deviceName(),
                    settings.threads, settings.accelerator.name.lowercase()))
                val file = withContext(Dispatchers.IO) { writeLatency(json, settings) }
                Log.i(TAG, "latency.json written to $file:\n$json")
                state.update {
                    it.copy(benchmark = it.benchmark.copy(
                        running = false,
                        filePath = file.absolutePath,
                        rows = result.exits.map { e ->
                            ExitLatency(e.exit, e.stage.medianMs, e.stage.p95Ms, e.path.medianMs, e.path.p95Ms)
                        },
                    ))
                }
            } catch (e: Exception) {
                state.update { it.copy(benchmark = it.benchmark.copy(running = false)) }
                showError(e)
            }
        }
    }

    private fun writeLatency(json: String, settings: Settings): File {
        val dir = File(appContext.cacheDir, "latency").apply { mkdirs() }
        val name = "latency_${settings.threads}t_${settings.accelerator.name.lowercase()}.json"
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

    private fun showError(e: Exception) {
        Log.e(TAG, "cascade error", e)
        state.update { it.copy(errorMessage = e.message ?: e.toString()) }
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
