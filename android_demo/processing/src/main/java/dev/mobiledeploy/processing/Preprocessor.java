package dev.mobiledeploy.processing;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The manifest's preprocessing, step for step as mobiledeploy/runtime/preprocess.py (the one definition):
 * central crop with tf.image.central_crop's integer rule, bilinear resize with half-pixel centres and no
 * antialias in double precision (top = p00 + (p01 - p00) * wx, bottom likewise, value = top + (bottom - top) * wy),
 * (value - mean) / std, then float32, or q = clamp(floor(x / scale + zeroPoint + 0.5)) for integer inputs.
 * The same operations in the same order give the same doubles, so the tensors match bit for bit.
 */
public final class Preprocessor {
    private final Manifest.Input spec;
    private final Manifest.Tensor tensor;

    public Preprocessor(Manifest.Input spec, Manifest.Tensor inputTensor) {
        this.spec = spec;
        this.tensor = inputTensor;
    }

    /** Bytes of the input tensor (1 x H x W x 3). */
    public int tensorBytes() {
        return spec.height * spec.width * 3 * ("float32".equals(tensor.dtype) ? 4 : 1);
    }

    /** Normalised values (H x W x 3, row major) for an RGB image (w x h x 3 bytes, row major). */
    public double[] normalized(byte[] rgb, int w, int h) {
        int top = 0, left = 0, ch = h, cw = w;
        if (spec.cropFraction < 1.0) {
            top = (int) ((h - h * spec.cropFraction) / 2);
            left = (int) ((w - w * spec.cropFraction) / 2);
            ch = h - 2 * top;
            cw = w - 2 * left;
        }
        int oh = spec.height, ow = spec.width;
        int[] y0 = new int[oh], y1 = new int[oh], x0 = new int[ow], x1 = new int[ow];
        double[] wy = new double[oh], wx = new double[ow];
        axis(ch, oh, y0, y1, wy);
        axis(cw, ow, x0, x1, wx);
        double[] out = new double[oh * ow * 3];
        for (int y = 0; y < oh; y++) {
            int r0 = (top + y0[y]) * w, r1 = (top + y1[y]) * w;
            for (int x = 0; x < ow; x++) {
                int c0 = left + x0[x], c1 = left + x1[x];
                for (int c = 0; c < 3; c++) {
                    double p00 = rgb[(r0 + c0) * 3 + c] & 0xFF, p01 = rgb[(r0 + c1) * 3 + c] & 0xFF;
                    double p10 = rgb[(r1 + c0) * 3 + c] & 0xFF, p11 = rgb[(r1 + c1) * 3 + c] & 0xFF;
                    double t = p00 + (p01 - p00) * wx[x];
                    double b = p10 + (p11 - p10) * wx[x];
                    double v = t + (b - t) * wy[y];
                    out[(y * ow + x) * 3 + c] = (v - spec.mean[c]) / spec.std[c];
                }
            }
        }
        return out;
    }

    /** Write the model's input tensor for an RGB image into `dst` (native order for floats). */
    public void fill(byte[] rgb, int w, int h, ByteBuffer dst) {
        double[] values = normalized(rgb, w, h);
        dst.order(ByteOrder.nativeOrder());
        switch (tensor.dtype) {
            case "float32":
                for (double v : values) dst.putFloat((float) v);
                break;
            case "int8":
                for (double v : values) dst.put((byte) quantize(v, -128, 127));
                break;
            case "uint8":
                for (double v : values) dst.put((byte) quantize(v, 0, 255));
                break;
            default:
                throw new IllegalArgumentException("unsupported input dtype " + tensor.dtype);
        }
    }

    /** clamp(floor(x / scale + zeroPoint + 0.5)), as the Python runtime rounds. */
    int quantize(double x, int min, int max) {
        double q = Math.floor(x / tensor.scale + tensor.zeroPoint + 0.5);
        return (int) Math.max(min, Math.min(max, q));
    }

    private static void axis(int in, int out, int[] lo, int[] hi, double[] frac) {
        double scale = (double) in / out;
        for (int i = 0; i < out; i++) {
            double src = (i + 0.5) * scale - 0.5;
            src = Math.min(Math.max(src, 0.0), in - 1);
            lo[i] = (int) Math.floor(src);
            hi[i] = Math.min(lo[i] + 1, in - 1);
            frac[i] = src - lo[i];
        }
    }
}
