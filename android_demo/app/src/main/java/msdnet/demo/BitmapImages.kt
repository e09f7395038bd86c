package msdnet.demo

import android.graphics.Bitmap
import android.graphics.Matrix
import msdnet.cascade.ImageU8
import kotlin.math.max
import kotlin.math.roundToInt

/** Android bitmaps to the RGB pixels cascade-core works on. */
object BitmapImages {
    /**
     * The bitmap upright (rotated by [rotationDegrees], as CameraX reports it) and no larger
     * than [maxSide] on its longer side, as 8-bit RGB.
     */
    fun toRgb(bitmap: Bitmap, rotationDegrees: Int, maxSide: Int): ImageU8 {
        var image = bitmap
        val longer = max(image.width, image.height)
        if (longer > maxSide) {
            val scale = maxSide.toFloat() / longer
            image = Bitmap.createScaledBitmap(
                image,
                max(1, (image.width * scale).roundToInt()),
                max(1, (image.height * scale).roundToInt()),
                true,
            )
        }
        if (rotationDegrees % 360 != 0) {
            val matrix = Matrix().apply { postRotate(rotationDegrees.toFloat()) }
            image = Bitmap.createBitmap(image, 0, 0, image.width, image.height, matrix, true)
        }
        if (image.config != Bitmap.Config.ARGB_8888) {
            image = image.copy(Bitmap.Config.ARGB_8888, false)
        }
        val pixels = IntArray(image.width * image.height)
        image.getPixels(pixels, 0, image.width, 0, 0, image.width, image.height)
        return ImageU8.fromArgb(pixels, image.width, image.height)
    }
}
