package msdnet.demo

import androidx.compose.runtime.Immutable
import msdnet.cascade.BudgetPolicy

/** Everything the screens show; replaced as a whole on every change (a StateFlow value). */
@Immutable
data class UiState(
    val model: ModelInfo? = null,
    val settings: Settings = Settings(),
    val result: Classification? = null,
    val benchmark: BenchmarkState = BenchmarkState(),
    /** Whether LiteRT has a GPU accelerator in this build (see LiteRtStageRunner.gpuAvailable). */
    val gpuAvailable: Boolean = false,
    val errorMessage: String? = null,
)

/** What the bundled model is, for the header and the budget controls. */
@Immutable
data class ModelInfo(
    val fingerprint: String?,
    val mode: String,
    val dataset: String,
    val numExits: Int,
    val exitMflops: List<Double>,
    val thresholdsSource: String?,
    /** The q values of budgeted.json (empty without it). */
    val qValues: List<Double>,
    /** The input sides the model serves, largest first (one for an ordinary model). */
    val resolutions: List<Int> = emptyList(),
    /** Whether budgeted.json holds every side's curve (the latency budget needs them). */
    val hasResolutionCurves: Boolean = false,
) {
    companion object {
        fun of(files: ModelAssets) = ModelInfo(
            fingerprint = files.manifest.model,
            mode = files.manifest.mode,
            dataset = files.manifest.preprocessing.dataset,
            numExits = files.manifest.numExits,
            exitMflops = files.manifest.cumulativeFlops().map { it / 1e6 },
            thresholdsSource = files.thresholdsSource,
            qValues = files.budgets?.points?.map { it.q }.orEmpty(),
            resolutions = files.manifest.resolutions.toList(),
            hasResolutionCurves = files.curves.isNotEmpty(),
        )
    }
}

enum class PolicyMode { THRESHOLDS, EXIT_SHARE, DEADLINE, LAST_EXIT, LATENCY_BUDGET }

@Immutable
data class Settings(
    val accelerator: AcceleratorChoice = AcceleratorChoice.CPU,
    val threads: Int = CascadeClassifier.DEFAULT_THREADS,
    val policyMode: PolicyMode = PolicyMode.THRESHOLDS,
    val q: Double = 1.0,
    val deadlineMs: Double = 5.0,
    /** Mean latency per image for LATENCY_BUDGET (resolution-switchable models). */
    val budgetMs: Double = 2.0,
    val invert: Boolean = false,
) {
    /** The budget choice as cascade-core's [BudgetPolicy], which also knows its fallback. */
    fun policy(): BudgetPolicy = when (policyMode) {
        PolicyMode.THRESHOLDS -> BudgetPolicy.thresholds()
        PolicyMode.EXIT_SHARE -> BudgetPolicy.exitShare(q)
        PolicyMode.DEADLINE -> BudgetPolicy.deadline(deadlineMs)
        PolicyMode.LAST_EXIT -> BudgetPolicy.lastExit()
        PolicyMode.LATENCY_BUDGET -> BudgetPolicy.latencyBudget(budgetMs)
    }

    fun classifierOptions() = CascadeClassifier.Options(accelerator, threads, invert)
}

@Immutable
data class BenchmarkState(
    val running: Boolean = false,
    val done: Int = 0,
    val total: Int = 0,
    val warmup: Int = 10,
    val repetitions: Int = 50,
    val rows: List<ExitLatency> = emptyList(),
    /** The latency.json written on this phone, ready to share. */
    val filePath: String? = null,
)

@Immutable
data class ExitLatency(
    /** The input side timed. */
    val resolution: Int,
    val exit: Int,
    val stageMs: Double,
    val stageP95Ms: Double,
    val pathMs: Double,
    val pathP95Ms: Double,
)
