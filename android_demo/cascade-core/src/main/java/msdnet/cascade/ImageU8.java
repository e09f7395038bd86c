package msdnet.cascade;

/** An 8-bit image, rows of pixels with interleaved channels (HWC), 1 (gray) or 3 (RGB). */
public final class ImageU8 {
    public final int height;
    public final int width;
    public final int channels;
    private final byte[] data;

    public ImageU8(int height, int width, int channels, byte[] data) {
        if (height < 1 || width < 1 || (channels != 1 && channels != 3)) {
            throw new IllegalArgumentException("an image needs a positive size and 1 or 3 "
                    + "channels. Received: " + height + "x" + width + "x" + channels);
        }
        if (data.length != (long) height * width * channels) {
            throw new IllegalArgumentException("image data holds " + data.length + " bytes, "
                    + "expected " + height + "*" + width + "*" + channels);
        }
        this.height = height;
        this.width = width;
        this.channels = channels;
        this.data = data;
    }

    /** From 0xAARRGGBB pixels (Android's {@code Bitmap.getPixels}), row by row; alpha dropped. */
    public static ImageU8 fromArgb(int[] argb, int width, int height) {
        byte[] data = new byte[width * height * 3];
        for (int i = 0; i < width * height; i++) {
            int p = argb[i];
            data[3 * i] = (byte) (p >> 16);
            data[3 * i + 1] = (byte) (p >> 8);
            data[3 * i + 2] = (byte) p;
        }
        return new ImageU8(height, width, 3, data);
    }

    /** The value 0..255 at row y, column x, channel c. */
    public int get(int y, int x, int c) {
        return data[(y * width + x) * channels + c] & 0xff;
    }

    /** The raw bytes (shared, not copied). */
    public byte[] data() {
        return data;
    }
}
