package msdnet.demo.view

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.font.FontFamily
import androidx.compose.ui.unit.dp
import java.util.Locale
import msdnet.demo.BenchmarkState
import msdnet.demo.ModelInfo
import msdnet.demo.R

/**
 * Per-exit latency on this phone: every stage alone and every path 0..k, after warm-up,
 * median and 95th percentile. The result is written as latency.json, in the format of
 * tflite/benchmark.py, for `python -m msdnet_tf.evaluate --budget-ms T --latency FILE`.
 */
@Composable
fun BenchmarkScreen(
    state: BenchmarkState,
    model: ModelInfo?,
    onRuns: (warmup: Int, repetitions: Int) -> Unit,
    onRun: () -> Unit,
    onShare: () -> Unit,
    modifier: Modifier = Modifier,
) {
    Column(
        modifier.fillMaxSize().padding(16.dp).verticalScroll(rememberScrollState()),
        verticalArrangement = Arrangement.spacedBy(8.dp),
    ) {
        Stepper(stringResource(R.string.warmup), state.warmup, step = 5,
            onChange = { onRuns(it, state.repetitions) })
        Stepper(stringResource(R.string.repetitions), state.repetitions, step = 10,
            onChange = { onRuns(state.warmup, it) })
        Button(onClick = onRun, enabled = !state.running && model != null) {
            Text(stringResource(R.string.benchmark_run))
        }
        if (state.running && state.total > 0) {
            LinearProgressIndicator(
                progress = { state.done.toFloat() / state.total },
                modifier = Modifier.fillMaxWidth(),
            )
        }
        if (state.rows.isNotEmpty()) {
            val mono = MaterialTheme.typography.bodyMedium.copy(fontFamily = FontFamily.Monospace)
            Text("input exit  stage ms (p95)    path ms (p95)", style = mono)
            state.rows.forEach { r ->
                Text(
                    String.format(Locale.US, "%5s %4d  %7.3f (%7.3f)  %7.3f (%7.3f)",
                        "${r.resolution}", r.exit, r.stageMs, r.stageP95Ms, r.pathMs, r.pathP95Ms),
                    style = mono,
                )
            }
            state.filePath?.let {
                Text("Saved $it", style = MaterialTheme.typography.bodySmall)
                OutlinedButton(onClick = onShare) { Text(stringResource(R.string.benchmark_share)) }
                Text(
                    "On the computer: python -m msdnet_tf.evaluate --workdir RUN --budget-ms T " +
                        "--latency latency.json writes thresholds.json for this phone.",
                    style = MaterialTheme.typography.bodySmall,
                )
            }
        }
    }
}

@Composable
fun Stepper(label: String, value: Int, step: Int, onChange: (Int) -> Unit) {
    Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
        Text("$label: $value", Modifier.padding(top = 12.dp).weight(1f))
        OutlinedButton(onClick = { onChange(maxOf(0, value - step)) }) { Text("-") }
        OutlinedButton(onClick = { onChange(value + step) }) { Text("+") }
    }
}
