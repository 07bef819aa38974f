package dev.mobiledeploy.processing;

/**
 * Camera frames to upright RGB: Camera2's YUV_420_888 (or RGBA_8888) buffers (with their row and pixel
 * strides) and the rotation the camera reports. Plain Java: runs on a JVM for tests.
 */
public final class Frames {
    private Frames() {}

    /** An RGB image: width x height x 3 bytes, row major. */
    public static final class Rgb {
        public final int width;
        public final int height;
        public final byte[] data;

        public Rgb(int width, int height, byte[] data) {
            this.width = width;
            this.height = height;
            this.data = data;
        }
    }

    /** RGBA_8888 plane (rowStride bytes per row, 4 bytes per pixel) to RGB, dropping alpha. */
    public static Rgb rgbaToRgb(byte[] rgba, int width, int height, int rowStride) {
        byte[] out = new byte[width * height * 3];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int s = y * rowStride + x * 4, d = (y * width + x) * 3;
                out[d] = rgba[s];
                out[d + 1] = rgba[s + 1];
                out[d + 2] = rgba[s + 2];
            }
        }
        return new Rgb(width, height, out);
    }

    /**
     * Camera2's YUV_420_888 (a Y plane plus U and V planes subsampled 2 x 2, each with its own row stride; U and V
     * share a row and a pixel stride: 1 when planar, 2 when interleaved) to RGB. The one rule, which
     * mobiledeploy/runtime/yuv.py defines and the test vectors check bit for bit: pixel (x, y) takes chroma
     * sample (x / 2, y / 2) with no interpolation; BT.601 full range (JFIF) in 16.16 fixed point with
     * Cb = U - 128, Cr = V - 128:
     * R = Y + ((91881 Cr + 32768) >> 16), G = Y + ((-22554 Cb - 46802 Cr + 32768) >> 16),
     * B = Y + ((116130 Cb + 32768) >> 16), each clamped to 0..255 (>> is an arithmetic shift: floor).
     * The planes may end right after their last pixel (Camera2 buffers do not pad the last row).
     */
    public static Rgb yuv420ToRgb(byte[] y, int yRowStride, byte[] u, byte[] v, int uvRowStride, int uvPixelStride,
                                  int width, int height) {
        byte[] out = new byte[width * height * 3];
        for (int row = 0; row < height; row++) {
            for (int col = 0; col < width; col++) {
                int yy = y[row * yRowStride + col] & 0xFF;
                int uv = (row >> 1) * uvRowStride + (col >> 1) * uvPixelStride;
                int cb = (u[uv] & 0xFF) - 128, cr = (v[uv] & 0xFF) - 128;
                int d = (row * width + col) * 3;
                out[d] = clamp(yy + ((91881 * cr + 32768) >> 16));
                out[d + 1] = clamp(yy + ((-22554 * cb - 46802 * cr + 32768) >> 16));
                out[d + 2] = clamp(yy + ((116130 * cb + 32768) >> 16));
            }
        }
        return new Rgb(width, height, out);
    }

    /** Rotate clockwise by 0, 90, 180 or 270 degrees (the sensor orientation relative to the display). */
    public static Rgb rotate(Rgb img, int degrees) {
        int w = img.width, h = img.height;
        switch (((degrees % 360) + 360) % 360) {
            case 0:
                return img;
            case 90: {
                byte[] out = new byte[w * h * 3];
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        System.arraycopy(img.data, (y * w + x) * 3, out, (x * h + (h - 1 - y)) * 3, 3);
                return new Rgb(h, w, out);
            }
            case 180: {
                byte[] out = new byte[w * h * 3];
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        System.arraycopy(img.data, (y * w + x) * 3, out, ((h - 1 - y) * w + (w - 1 - x)) * 3, 3);
                return new Rgb(w, h, out);
            }
            case 270: {
                byte[] out = new byte[w * h * 3];
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        System.arraycopy(img.data, (y * w + x) * 3, out, ((w - 1 - x) * h + y) * 3, 3);
                return new Rgb(h, w, out);
            }
            default:
                throw new IllegalArgumentException("rotation must be a multiple of 90, got " + degrees);
        }
    }

    private static byte clamp(int v) {
        return (byte) Math.max(0, Math.min(255, v));
    }
}
