package msdnet.cascade;

/**
 * Turns a photo (camera frame, gallery picture) into an image of the kind the dataset
 * stores, before the preprocessing of record runs: centre-crop to the stored aspect ratio,
 * box-filter down to the stored size, gray if the dataset is gray, and optionally invert
 * (Fashion-MNIST and the digits are light objects on black). This step has no Python
 * counterpart: a photo is not a dataset image; everything after it is exact.
 */
public final class ImageFit {
    private ImageFit() {
    }

    /**
     * @param rgb the photo, RGB
     * @param invert make dark-on-light photos light-on-dark
     */
    public static ImageU8 toDatasetImage(ImageU8 rgb, PreprocessingSpec spec, boolean invert) {
        if (rgb.channels != 3) {
            throw new IllegalArgumentException("expected an RGB photo. Received " + rgb.channels
                    + " channel(s)");
        }
        ImageU8 image = rgb;
        if (spec.hasFixedInputSize()) {
            image = cropToAspect(image, spec.inputHeight, spec.inputWidth);
            image = boxResize(image, spec.inputHeight, spec.inputWidth);
        }
        if (spec.channelsIn == 1) {
            image = toGray(image);
        }
        return invert ? invert(image) : image;
    }

    /** The largest centred crop with the aspect ratio height:width. */
    static ImageU8 cropToAspect(ImageU8 x, int height, int width) {
        long hw = (long) x.height * width;
        long wh = (long) x.width * height;
        int cropH = x.height;
        int cropW = x.width;
        if (hw > wh) {
            cropH = (int) (wh / width);
        } else if (wh > hw) {
            cropW = (int) (hw / height);
        }
        cropH = Math.max(1, cropH);
        cropW = Math.max(1, cropW);
        int top = (x.height - cropH) / 2;
        int left = (x.width - cropW) / 2;
        byte[] out = new byte[cropH * cropW * x.channels];
        for (int y = 0; y < cropH; y++) {
            System.arraycopy(x.data(), ((top + y) * x.width + left) * x.channels, out,
                    y * cropW * x.channels, cropW * x.channels);
        }
        return new ImageU8(cropH, cropW, x.channels, out);
    }

    /** Each output pixel averages the input pixels whose centres fall in its cell. */
    static ImageU8 boxResize(ImageU8 x, int height, int width) {
        byte[] out = new byte[height * width * x.channels];
        for (int y = 0; y < height; y++) {
            int y0 = (int) ((long) y * x.height / height);
            int y1 = Math.max(y0 + 1, (int) ((long) (y + 1) * x.height / height));
            for (int c = 0; c < width; c++) {
                int x0 = (int) ((long) c * x.width / width);
                int x1 = Math.max(x0 + 1, (int) ((long) (c + 1) * x.width / width));
                for (int k = 0; k < x.channels; k++) {
                    long sum = 0;
                    for (int yy = y0; yy < y1; yy++) {
                        for (int xx = x0; xx < x1; xx++) {
                            sum += x.get(yy, xx, k);
                        }
                    }
                    long n = (long) (y1 - y0) * (x1 - x0);
                    out[(y * width + c) * x.channels + k] = (byte) ((sum + n / 2) / n);
                }
            }
        }
        return new ImageU8(height, width, x.channels, out);
    }

    /** ITU-R 601-2 luma, L = (299 R + 587 G + 114 B) / 1000, as PIL's convert("L"). */
    static ImageU8 toGray(ImageU8 x) {
        byte[] out = new byte[x.height * x.width];
        byte[] d = x.data();
        for (int i = 0; i < out.length; i++) {
            int r = d[3 * i] & 0xff;
            int g = d[3 * i + 1] & 0xff;
            int b = d[3 * i + 2] & 0xff;
            out[i] = (byte) ((r * 299 + g * 587 + b * 114 + 500) / 1000);
        }
        return new ImageU8(x.height, x.width, 1, out);
    }

    static ImageU8 invert(ImageU8 x) {
        byte[] d = x.data();
        byte[] out = new byte[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = (byte) (255 - (d[i] & 0xff));
        }
        return new ImageU8(x.height, x.width, x.channels, out);
    }
}
