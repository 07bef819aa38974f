package dev.mobiledeploy.processing;

/**
 * Camera frames to upright RGB: CameraX's RGBA_8888 or YUV_420_888 buffers (with their row and pixel
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
     * YUV_420_888 (Y plane plus subsampled U and V planes with their own strides) to RGB with the BT.601
     * full-range equations the camera's JPEG encoder uses: R = Y + 1.402 (V-128), G = Y - 0.344136 (U-128)
     * - 0.714136 (V-128), B = Y + 1.772 (U-128), rounded and clamped.
     */
    public static Rgb yuv420ToRgb(byte[] y, int yRowStride, byte[] u, byte[] v, int uvRowStride, int uvPixelStride,
                                  int width, int height) {
        byte[] out = new byte[width * height * 3];
        for (int row = 0; row < height; row++) {
            for (int col = 0; col < width; col++) {
                double yy = y[row * yRowStride + col] & 0xFF;
                int uv = (row / 2) * uvRowStride + (col / 2) * uvPixelStride;
                double cb = (u[uv] & 0xFF) - 128.0, cr = (v[uv] & 0xFF) - 128.0;
                int d = (row * width + col) * 3;
                out[d] = clamp(yy + 1.402 * cr);
                out[d + 1] = clamp(yy - 0.344136 * cb - 0.714136 * cr);
                out[d + 2] = clamp(yy + 1.772 * cb);
            }
        }
        return new Rgb(width, height, out);
    }

    /** Rotate clockwise by 0, 90, 180 or 270 degrees (ImageInfo.getRotationDegrees()). */
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

    private static byte clamp(double v) {
        long r = Math.round(v);
        return (byte) Math.max(0, Math.min(255, r));
    }
}
