package dev.mobiledeploy.processing;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/** Output dequantization and top-k, as the Python runtime does them. */
public final class Postprocessor {
    /** One class of a top-k list. */
    public static final class Prediction {
        public final int index;
        public final String label;
        public final float score;

        public Prediction(int index, String label, float score) {
            this.index = index;
            this.label = label;
            this.score = score;
        }

        @Override
        public String toString() {
            return String.format("%.3f %s", score, label);
        }
    }

    private final Manifest.Tensor output;
    private final List<String> labels;

    public Postprocessor(Manifest.Tensor output, List<String> labels) {
        this.output = output;
        this.labels = labels;
    }

    /** Scores as float32: (q - zeroPoint) * scale in float32 for integer outputs. */
    public float[] dequantize(ByteBuffer raw, int count) {
        raw.order(ByteOrder.nativeOrder());
        float[] out = new float[count];
        float scale = (float) output.scale;
        for (int i = 0; i < count; i++) {
            switch (output.dtype) {
                case "float32":
                    out[i] = raw.getFloat(i * 4);
                    break;
                case "int8":
                    out[i] = ((float) raw.get(i) - output.zeroPoint) * scale;
                    break;
                case "uint8":
                    out[i] = ((float) (raw.get(i) & 0xFF) - output.zeroPoint) * scale;
                    break;
                default:
                    throw new IllegalArgumentException("unsupported output dtype " + output.dtype);
            }
        }
        return out;
    }

    /** The k best classes; equal scores keep the lower index first (like a stable argsort). */
    public List<Prediction> top(float[] scores, int k) {
        Integer[] order = new Integer[scores.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -scores[i]).thenComparingInt(i -> i));
        List<Prediction> out = new ArrayList<>();
        for (int i = 0; i < Math.min(k, order.length); i++) {
            int idx = order[i];
            out.add(new Prediction(idx, labels == null ? String.valueOf(idx) : labels.get(idx), scores[idx]));
        }
        return out;
    }
}
