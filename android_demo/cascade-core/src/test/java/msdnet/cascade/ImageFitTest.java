package msdnet.cascade;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import org.junit.Test;

public class ImageFitTest {
    private static ImageU8 rgb(int h, int w, int value) {
        byte[] d = new byte[h * w * 3];
        java.util.Arrays.fill(d, (byte) value);
        return new ImageU8(h, w, 3, d);
    }

    @Test
    public void cropsToTheStoredAspectRatioAroundTheCentre() {
        ImageU8 wide = rgb(4, 8, 0);
        ImageU8 square = ImageFit.cropToAspect(wide, 28, 28);
        assertEquals(4, square.height);
        assertEquals(4, square.width);
        ImageU8 tall = ImageFit.cropToAspect(rgb(9, 3, 0), 1, 1);
        assertEquals(3, tall.height);
    }

    @Test
    public void boxResizeAveragesCells() {
        byte[] d = {0, 100, 50, (byte) 250}; // 2x2 gray
        ImageU8 one = ImageFit.boxResize(new ImageU8(2, 2, 1, d), 1, 1);
        assertEquals(100, one.get(0, 0, 0)); // (0 + 100 + 50 + 250) / 4 = 100
    }

    @Test
    public void grayIsPilLuma() {
        ImageU8 px = new ImageU8(1, 1, 3, new byte[] {(byte) 255, 0, 0});
        assertEquals(76, ImageFit.toGray(px).get(0, 0, 0)); // 255 * 0.299 = 76.2
        ImageU8 white = rgb(1, 1, 255);
        assertEquals(255, ImageFit.toGray(white).get(0, 0, 0));
    }

    @Test
    public void fitsAPhotoToTheDatasetImage() {
        Manifest m = TestFiles.smallManifest(); // fashion_mnist-like: stored 2x2 gray
        ImageU8 photo = rgb(6, 10, 200);
        ImageU8 fitted = ImageFit.toDatasetImage(photo, m.preprocessing, true);
        assertEquals(2, fitted.height);
        assertEquals(2, fitted.width);
        assertEquals(1, fitted.channels);
        assertArrayEquals(new byte[] {55, 55, 55, 55}, fitted.data()); // 255 - 200
    }

    @Test
    public void readsArgbPixels() {
        ImageU8 x = ImageU8.fromArgb(new int[] {0xFF102030, 0x00FFFFFF}, 2, 1);
        assertEquals(0x10, x.get(0, 0, 0));
        assertEquals(0x20, x.get(0, 0, 1));
        assertEquals(0x30, x.get(0, 0, 2));
        assertEquals(255, x.get(0, 1, 2));
    }
}
