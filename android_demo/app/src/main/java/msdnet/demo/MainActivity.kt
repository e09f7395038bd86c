package msdnet.demo

import android.content.pm.PackageManager
import android.os.Bundle
import android.widget.Toast
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.viewModels
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.BottomSheetScaffold
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.PrimaryTabRow
import androidx.compose.material3.Tab
import androidx.compose.material3.Text
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import msdnet.demo.view.AppTheme
import msdnet.demo.view.BenchmarkScreen
import msdnet.demo.view.CameraScreen
import msdnet.demo.view.GalleryScreen
import msdnet.demo.view.ResultAndSettingsSheet

/** One activity: camera, gallery and benchmark tabs over a sheet of results and settings. */
class MainActivity : ComponentActivity() {
    private val viewModel: MainViewModel by viewModels { MainViewModel.factory(this) }

    @OptIn(ExperimentalMaterial3Api::class)
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContent {
            val uiState by viewModel.uiState.collectAsStateWithLifecycle()
            // The manifest lets camera-less devices install the app: they start on the gallery.
            val hasCamera = remember { packageManager.hasSystemFeature(PackageManager.FEATURE_CAMERA_ANY) }
            var tab by rememberSaveable { mutableStateOf(if (hasCamera) Screen.Camera else Screen.Gallery) }

            LaunchedEffect(uiState.errorMessage) {
                uiState.errorMessage?.let {
                    Toast.makeText(this@MainActivity, it, Toast.LENGTH_LONG).show()
                    viewModel.errorShown()
                }
            }
            AppTheme {
                BottomSheetScaffold(
                    sheetPeekHeight = 150.dp,
                    topBar = {
                        TopAppBar(title = { Text(stringResource(R.string.app_name)) })
                    },
                    sheetContent = {
                        ResultAndSettingsSheet(
                            uiState = uiState,
                            onPolicyMode = viewModel::setPolicyMode,
                            onQ = viewModel::setQ,
                            onDeadline = viewModel::setDeadlineMs,
                            onBudgetMs = viewModel::setBudgetMs,
                            onThreads = viewModel::setThreads,
                            onAccelerator = viewModel::setAccelerator,
                            onInvert = viewModel::setInvert,
                        )
                    },
                ) { padding ->
                    Column(Modifier.padding(padding).fillMaxSize()) {
                        Tabs(tab) { tab = it }
                        when (tab) {
                            Screen.Camera -> CameraScreen(onFrame = viewModel::classify)
                            Screen.Gallery -> GalleryScreen(onImage = viewModel::classify)
                            Screen.Benchmark -> BenchmarkScreen(
                                state = uiState.benchmark,
                                model = uiState.model,
                                onRuns = viewModel::setBenchmarkRuns,
                                onRun = viewModel::runBenchmark,
                                onShare = { viewModel.shareLatencyIntent()?.let(::startActivity) },
                            )
                        }
                    }
                }
            }
        }
    }

    @Composable
    private fun Tabs(selected: Screen, onSelect: (Screen) -> Unit) {
        PrimaryTabRow(selectedTabIndex = selected.ordinal) {
            Screen.entries.forEach { screen ->
                Tab(
                    selected = screen == selected,
                    onClick = { onSelect(screen) },
                    text = { Text(stringResource(screen.title)) },
                )
            }
        }
    }

    private enum class Screen(val title: Int) {
        Camera(R.string.tab_camera),
        Gallery(R.string.tab_gallery),
        Benchmark(R.string.tab_benchmark),
    }
}
