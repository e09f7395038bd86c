package msdnet.demo

import android.content.res.AssetManager
import java.io.FileNotFoundException
import msdnet.cascade.BudgetTable
import msdnet.cascade.Manifest
import msdnet.cascade.Thresholds

/**
 * The deployment files the Gradle task copied into the assets (docs/deployment-format.md):
 * manifest.json and cascade.tflite always, thresholds.json and budgeted.json when the
 * converted directory had them. Parsed and checked by cascade-core; a file made for
 * another model, or a cascade.tflite that is not the one manifest.json describes, is refused
 * with its message.
 */
class ModelAssets(
    val manifest: Manifest,
    /** thresholds.json, else the manifest's own, else null. */
    val thresholds: Thresholds?,
    val thresholdsSource: String?,
    /** The budgeted curve (one thresholds set per exit-share q), or null. */
    val budgets: BudgetTable?,
) {
    companion object {
        fun load(assets: AssetManager): ModelAssets {
            val manifestText = read(assets, "manifest.json")
                ?: throw IllegalStateException(
                    "manifest.json is not in the app's assets: build with -PmodelDir=DIR"
                )
            val manifest = Manifest.parse(manifestText, "manifest.json")
            if (!assets.list("")!!.contains(manifest.cascadeFile)) {
                throw IllegalStateException("${manifest.cascadeFile} is not in the app's assets")
            }
            // The model bundled must be the one this manifest was converted with (its sha256
            // and size); manifests written before digests existed are not checked.
            assets.open(manifest.cascadeFile).use { manifest.checkFile(manifest.cascadeFile, it) }
            val fromFile = read(assets, "thresholds.json")
                ?.let { Thresholds.parse(it, "thresholds.json").checkFor(manifest, "thresholds.json") }
            val thresholds = fromFile ?: manifest.thresholds
            val source = when {
                fromFile != null -> "thresholds.json"
                manifest.thresholds != null -> "manifest.json"
                else -> null
            }
            val budgets = read(assets, "budgeted.json")?.let {
                BudgetTable.parse(it, "budgeted.json", manifest.numExits)
                    .checkFor(manifest, "budgeted.json")
            }
            return ModelAssets(manifest, thresholds, source, budgets)
        }

        private fun read(assets: AssetManager, name: String): String? =
            try {
                assets.open(name).use { it.readBytes().toString(Charsets.UTF_8) }
            } catch (e: FileNotFoundException) {
                null
            }
    }
}
