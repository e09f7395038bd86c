package msdnet.demo.view

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.selection.selectable
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.RadioButton
import androidx.compose.material3.Slider
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.font.FontWeight
import androidx.compose.ui.unit.dp
import java.util.Locale
import kotlin.math.roundToInt
import msdnet.demo.AcceleratorChoice
import msdnet.demo.Classification
import msdnet.demo.PolicyMode
import msdnet.demo.R
import msdnet.demo.UiState

/** The bottom sheet: the last answer on top (visible when collapsed), settings below. */
@Composable
fun ResultAndSettingsSheet(
    uiState: UiState,
    onPolicyMode: (PolicyMode) -> Unit,
    onQ: (Double) -> Unit,
    onDeadline: (Double) -> Unit,
    onBudgetMs: (Double) -> Unit,
    onThreads: (Int) -> Unit,
    onAccelerator: (AcceleratorChoice) -> Unit,
    onInvert: (Boolean) -> Unit,
) {
    Column(
        Modifier.padding(horizontal = 20.dp, vertical = 8.dp).verticalScroll(rememberScrollState()),
        verticalArrangement = Arrangement.spacedBy(6.dp),
    ) {
        ResultPanel(uiState.result)
        HorizontalDivider()
        val settings = uiState.settings
        val model = uiState.model
        model?.let {
            Text("${it.dataset}, ${it.mode}, ${it.numExits} exits, model ${it.fingerprint ?: "?"}",
                style = MaterialTheme.typography.bodySmall)
        }
        Text(stringResource(R.string.policy), fontWeight = FontWeight.SemiBold)
        PolicyOption(stringResource(R.string.policy_thresholds), settings.policyMode == PolicyMode.THRESHOLDS,
            enabled = model?.thresholdsSource != null) { onPolicyMode(PolicyMode.THRESHOLDS) }
        PolicyOption(stringResource(R.string.policy_q), settings.policyMode == PolicyMode.EXIT_SHARE,
            enabled = !model?.qValues.isNullOrEmpty()) { onPolicyMode(PolicyMode.EXIT_SHARE) }
        if (settings.policyMode == PolicyMode.EXIT_SHARE && model != null && model.qValues.isNotEmpty()) {
            val qs = model.qValues
            val index = qs.indices.minByOrNull { kotlin.math.abs(qs[it] - settings.q) } ?: 0
            Text(String.format(Locale.US, "q = %.2f (small q: most images leave early)", qs[index]))
            Slider(
                value = index.toFloat(),
                onValueChange = { onQ(qs[it.roundToInt().coerceIn(qs.indices)]) },
                valueRange = 0f..(qs.size - 1).coerceAtLeast(1).toFloat(),
                steps = (qs.size - 2).coerceAtLeast(0),
            )
        }
        PolicyOption(stringResource(R.string.policy_deadline), settings.policyMode == PolicyMode.DEADLINE,
            enabled = uiState.benchmark.rows.isNotEmpty()) { onPolicyMode(PolicyMode.DEADLINE) }
        if (settings.policyMode == PolicyMode.DEADLINE) {
            // The deadline applies to the largest side's cascade (the first rows).
            val rows = uiState.benchmark.rows
            val maxMs = (rows.lastOrNull { it.resolution == rows.first().resolution }?.pathMs ?: 10.0) * 1.5
            Text(String.format(Locale.US, "deadline %.2f ms", settings.deadlineMs))
            Slider(
                value = settings.deadlineMs.toFloat().coerceIn(0.05f, maxMs.toFloat()),
                onValueChange = { onDeadline(it.toDouble()) },
                valueRange = 0.05f..maxMs.toFloat(),
            )
        }
        if (model != null && model.resolutions.size > 1) {
            // A resolution-switchable model: the side and thresholds for a mean latency.
            PolicyOption(stringResource(R.string.policy_latency_budget),
                settings.policyMode == PolicyMode.LATENCY_BUDGET,
                enabled = model.hasResolutionCurves && uiState.benchmark.rows.isNotEmpty()) {
                onPolicyMode(PolicyMode.LATENCY_BUDGET)
            }
            if (settings.policyMode == PolicyMode.LATENCY_BUDGET) {
                val maxMs = (uiState.benchmark.rows.maxOfOrNull { it.pathMs } ?: 10.0) * 1.2
                Text(String.format(Locale.US, "budget %.2f ms per image (%s)", settings.budgetMs,
                    model.resolutions.joinToString(", ") { "${it}x$it" }))
                Slider(
                    value = settings.budgetMs.toFloat().coerceIn(0.05f, maxMs.toFloat()),
                    onValueChange = { onBudgetMs(it.toDouble()) },
                    valueRange = 0.05f..maxMs.toFloat(),
                )
            }
        }
        PolicyOption(stringResource(R.string.policy_last), settings.policyMode == PolicyMode.LAST_EXIT,
            enabled = true) { onPolicyMode(PolicyMode.LAST_EXIT) }
        HorizontalDivider()
        Stepper(stringResource(R.string.threads), settings.threads, step = 1) { onThreads(it) }
        Row(verticalAlignment = Alignment.CenterVertically) {
            Text(stringResource(R.string.accelerator), Modifier.weight(1f))
            AcceleratorChoice.entries.forEach { choice ->
                // The GPU only if LiteRT has a GPU accelerator in this build (litert-gpu).
                val enabled = choice != AcceleratorChoice.GPU || uiState.gpuAvailable
                RadioButton(selected = settings.accelerator == choice, onClick = { onAccelerator(choice) },
                    enabled = enabled)
                Text(choice.name, color = enabledColor(enabled))
            }
        }
        if (model != null && !uiState.gpuAvailable) {
            Text(stringResource(R.string.gpu_absent), style = MaterialTheme.typography.bodySmall)
        }
        Row(verticalAlignment = Alignment.CenterVertically) {
            Text(stringResource(R.string.invert), Modifier.weight(1f))
            Switch(checked = settings.invert, onCheckedChange = onInvert)
        }
    }
}

@Composable
private fun ResultPanel(result: Classification?) {
    if (result == null) {
        Text(stringResource(R.string.no_result), Modifier.padding(vertical = 8.dp))
        return
    }
    Row(Modifier.fillMaxWidth()) {
        Text(result.label, Modifier.weight(1f), style = MaterialTheme.typography.titleLarge)
        Text(String.format(Locale.US, "%.1f%%", 100 * result.confidence),
            style = MaterialTheme.typography.titleLarge)
    }
    Row(Modifier.fillMaxWidth()) {
        Text(stringResource(R.string.exit_taken, result.exit, result.numExits - 1) +
            " at ${result.resolution}x${result.resolution}", Modifier.weight(1f))
        Text(stringResource(R.string.latency_value, result.latencyMs))
    }
    Text(stringResource(R.string.saved_value, 100 * result.flopsSaved))
    result.latencySavedMs?.let {
        Text(stringResource(R.string.saved_latency_value, it, result.numExits - 1))
    }
    // A budget that could not apply says so here, in the error colour, for as long as it lasts.
    Text(result.policyNote, style = MaterialTheme.typography.bodySmall,
        color = if (result.policyFallback != null) MaterialTheme.colorScheme.error else Color.Unspecified)
}

@Composable
private fun PolicyOption(label: String, selected: Boolean, enabled: Boolean, onClick: () -> Unit) {
    Row(
        Modifier.fillMaxWidth().selectable(selected = selected, enabled = enabled, onClick = onClick),
        verticalAlignment = Alignment.CenterVertically,
    ) {
        RadioButton(selected = selected, onClick = onClick, enabled = enabled)
        Text(label, color = enabledColor(enabled))
    }
}

@Composable
private fun enabledColor(enabled: Boolean) =
    if (enabled) MaterialTheme.colorScheme.onSurface else MaterialTheme.colorScheme.onSurface.copy(alpha = 0.38f)
