package msdnet.demo.view

import android.Manifest
import android.content.pm.PackageManager
import android.util.Log
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import androidx.camera.core.Preview
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.DisposableEffect
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import androidx.compose.ui.viewinterop.AndroidView
import androidx.core.content.ContextCompat
import androidx.lifecycle.compose.LocalLifecycleOwner
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicBoolean
import msdnet.cascade.ErrorText
import msdnet.demo.R

/**
 * Live preview plus an analysis stream of RGBA frames. KEEP_ONLY_LATEST: while a frame is
 * being classified the camera keeps only the newest one, so results never lag behind.
 *
 * The manifest does not require a camera, so this screen expects none: without one it says
 * so (and asks for no permission); it uses the back camera, else the front one; a camera
 * that cannot be started (CameraX fails to initialise, the camera is in use or refuses the
 * use cases) is reported on the screen instead of crashing the app.
 */
@Composable
fun CameraScreen(onFrame: (ImageProxy) -> Unit, modifier: Modifier = Modifier) {
    val context = LocalContext.current
    val hasCamera = remember {
        context.packageManager.hasSystemFeature(PackageManager.FEATURE_CAMERA_ANY)
    }
    if (!hasCamera) {
        Text(stringResource(R.string.camera_none), modifier.padding(16.dp))
        return
    }
    var granted by remember {
        mutableStateOf(
            ContextCompat.checkSelfPermission(context, Manifest.permission.CAMERA) ==
                PackageManager.PERMISSION_GRANTED
        )
    }
    val launcher = rememberLauncherForActivityResult(ActivityResultContracts.RequestPermission()) {
        granted = it
    }
    LaunchedEffect(Unit) {
        if (!granted) launcher.launch(Manifest.permission.CAMERA)
    }
    if (!granted) {
        Text(stringResource(R.string.camera_denied), modifier.padding(16.dp))
        return
    }
    var problem by remember { mutableStateOf<String?>(null) }
    val failed = problem
    if (failed != null) {
        Text(stringResource(R.string.camera_failed, failed), modifier.padding(16.dp))
        return
    }
    Box(modifier.fillMaxSize()) {
        CameraPreview(onFrame, onProblem = { problem = it })
    }
}

@Composable
private fun CameraPreview(onFrame: (ImageProxy) -> Unit, onProblem: (String) -> Unit) {
    val context = LocalContext.current
    val lifecycleOwner = LocalLifecycleOwner.current
    val providerFuture = remember { ProcessCameraProvider.getInstance(context) }
    val analysisExecutor = remember { Executors.newSingleThreadExecutor() }
    // The provider's listener may run after this composable has left: then it must not bind.
    val active = remember { AtomicBoolean(true) }
    val noCamera = stringResource(R.string.camera_no_back_or_front)
    DisposableEffect(lifecycleOwner) {
        onDispose {
            active.set(false)
            if (providerFuture.isDone) {
                runCatching { providerFuture.get().unbindAll() }
            }
            analysisExecutor.shutdown()
        }
    }
    AndroidView(
        modifier = Modifier.fillMaxSize(),
        factory = { ctx ->
            val previewView = PreviewView(ctx).apply { scaleType = PreviewView.ScaleType.FILL_CENTER }
            providerFuture.addListener({
                if (!active.get()) return@addListener
                try {
                    val provider = providerFuture.get() // throws if CameraX could not initialise
                    val selector = listOf(CameraSelector.DEFAULT_BACK_CAMERA, CameraSelector.DEFAULT_FRONT_CAMERA)
                        .firstOrNull { runCatching { provider.hasCamera(it) }.getOrDefault(false) }
                    if (selector == null) {
                        onProblem(noCamera)
                        return@addListener
                    }
                    val preview = Preview.Builder().build().also {
                        it.setSurfaceProvider(previewView.surfaceProvider)
                    }
                    val analysis = ImageAnalysis.Builder()
                        .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                        .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                        .build()
                    analysis.setAnalyzer(analysisExecutor) { frame -> onFrame(frame) }
                    provider.unbindAll()
                    provider.bindToLifecycle(lifecycleOwner, selector, preview, analysis)
                } catch (e: Exception) {
                    Log.e("MsdnetDemo", "camera", e)
                    onProblem(ErrorText.of(e))
                }
            }, ContextCompat.getMainExecutor(ctx))
            previewView
        },
    )
}
