package dev.mobiledeploy.processing;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;

/**
 * The parts of an artifact's manifest.json that the app needs: preprocessing rules and each file's I/O.
 * Android's org.json throws the checked JSONException (Maven Central's is unchecked): every reader below
 * declares it, and {@link #parse} turns it into one IllegalArgumentException that names what is wrong.
 */
public final class Manifest {
    /** How to turn an RGB image into the model's input (the manifest's "input" section). */
    public static final class Input {
        public final int height;
        public final int width;
        /** Central crop fraction of each side, or 1.0 for no crop. */
        public final double cropFraction;
        public final double[] mean;
        public final double[] std;

        Input(JSONObject o) throws JSONException {
            JSONArray shape = o.getJSONArray("shape");
            height = shape.getInt(1);
            width = shape.getInt(2);
            JSONObject crop = o.getJSONObject("crop");
            cropFraction = "central".equals(crop.getString("kind")) ? crop.getDouble("fraction") : 1.0;
            JSONObject resize = o.getJSONObject("resize");
            if (!"bilinear".equals(resize.getString("method")) || !resize.getBoolean("half_pixel_centers")
                    || resize.getBoolean("antialias")) {
                throw new IllegalArgumentException("unsupported resize rule " + resize);
            }
            if (!"RGB".equals(o.getString("color")) || !"NHWC".equals(o.getString("layout"))) {
                throw new IllegalArgumentException("unsupported colour order or layout");
            }
            mean = doubles(o.getJSONArray("mean"));
            std = doubles(o.getJSONArray("std"));
        }
    }

    /** A tensor's dtype and, when quantized, scale and zero point. */
    public static final class Tensor {
        public final String dtype;
        public final boolean quantized;
        public final double scale;
        public final int zeroPoint;

        Tensor(JSONObject o) throws JSONException {
            dtype = o.getString("dtype");
            quantized = !o.isNull("quantization");
            scale = quantized ? o.getJSONObject("quantization").getDouble("scale") : 1.0;
            zeroPoint = quantized ? o.getJSONObject("quantization").getInt("zero_point") : 0;
        }
    }

    /** One model file of the artifact. */
    public static final class File {
        public final String name;
        public final String format;
        public final String precision;
        public final Tensor input;
        public final Tensor output;

        File(JSONObject o) throws JSONException {
            name = o.getString("name");
            format = o.getString("format");
            precision = o.getString("precision");
            input = new Tensor(o.getJSONObject("input"));
            output = new Tensor(o.getJSONObject("output"));
        }
    }

    /**
     * What the app can read from a model's output: the manifest's output.kind. The app runs any family whose
     * manifest promises this contract (the input rules of {@link Input} and one vector of class
     * probabilities); it keeps no list of family names, so a family the exporter gains needs no app change.
     */
    public static final String OUTPUT_KIND = "probabilities";

    public final String name;
    /** model.architecture: the family the artifact holds, shown as text (never guessed from a folder name). */
    public final String architecture;
    public final double alpha;
    public final int resolution;
    public final int outputs;
    public final boolean background;
    public final String labelsFile;
    public final Input input;
    public final List<File> files;

    private Manifest(JSONObject o) throws JSONException {
        if (o.getInt("manifest_version") != 1) {
            throw new IllegalArgumentException("manifest_version " + o.get("manifest_version") + " is not 1");
        }
        name = o.getString("name");
        JSONObject model = o.getJSONObject("model");
        architecture = model.getString("architecture");
        alpha = model.getDouble("alpha");
        resolution = model.getInt("resolution");
        outputs = model.getInt("outputs");
        background = model.getBoolean("background");
        checkOutput(o.getJSONObject("output"), architecture, outputs, background);
        labelsFile = o.getJSONObject("labels").getString("file");
        input = new Input(o.getJSONObject("input"));
        List<File> list = new ArrayList<>();
        JSONArray arr = o.getJSONArray("files");
        for (int i = 0; i < arr.length(); i++) {
            list.add(new File(arr.getJSONObject(i)));
        }
        files = Collections.unmodifiableList(list);
    }

    /** Parse manifest.json text; IllegalArgumentException (with the reason) for anything malformed. */
    public static Manifest parse(String json) {
        try {
            return new Manifest(new JSONObject(json));
        } catch (JSONException e) {
            // Android's messages end with the whole input ("... at character 12 of {...}"): keep the position only
            String why = String.valueOf(e.getMessage());
            int at = why.indexOf(" at character ");
            int of = at < 0 ? -1 : why.indexOf(" of ", at);
            if (of > 0) why = why.substring(0, of);
            throw new IllegalArgumentException("malformed manifest.json: " + why, e);
        }
    }

    /** The file entry with this name. */
    public File file(String name) {
        for (File f : files) {
            if (f.name.equals(name)) {
                return f;
            }
        }
        throw new IllegalArgumentException("no file " + name + " in " + this.name);
    }

    /**
     * The file used when none is chosen, by the Python rule (Manifest.default_file and DEFAULT_PREFERENCE in
     * mobiledeploy/artifact/manifest.py): the first of int8 TFLite, fp32 TFLite, int8 ONNX, fp32 ONNX,
     * else the first file. The test vectors carry Python's choice (vectors.json's default_file) and
     * TestVectorsTest fails when the two rules part.
     */
    public File defaultFile() {
        String[][] preference = {{"tflite", "int8"}, {"tflite", "fp32"}, {"onnx", "int8"}, {"onnx", "fp32"}};
        for (String[] p : preference) {
            for (File f : files) {
                if (p[0].equals(f.format) && p[1].equals(f.precision)) return f;
            }
        }
        if (files.isEmpty()) throw new IllegalArgumentException(name + " lists no files");
        return files.get(0);
    }

    /** The TFLite files, int8 first (what the app prefers). */
    public List<File> tfliteFiles() {
        List<File> out = new ArrayList<>();
        for (File f : files) {
            if ("tflite".equals(f.format) && "int8".equals(f.precision)) out.add(f);
        }
        for (File f : files) {
            if ("tflite".equals(f.format) && !"int8".equals(f.precision)) out.add(f);
        }
        return out;
    }

    /**
     * The output contract the app relies on, read from the manifest rather than implied by a family name: one
     * vector of {@code outputs} class probabilities (ranked as they are), with the model's background flag.
     */
    private static void checkOutput(JSONObject out, String architecture, int outputs, boolean background)
            throws JSONException {
        String kind = out.getString("kind");
        if (!OUTPUT_KIND.equals(kind)) {
            throw new IllegalArgumentException("output.kind " + JSONObject.quote(kind) + " of model.architecture "
                    + JSONObject.quote(architecture) + " is not one this app reads (" + OUTPUT_KIND
                    + "): re-export the artifact or update the app");
        }
        JSONArray shape = out.getJSONArray("shape");
        if (outputs < 1 || shape.length() != 2 || shape.getInt(0) != 1 || shape.getInt(1) != outputs) {
            throw new IllegalArgumentException("output.shape " + shape + " is not [1, " + outputs
                    + "] (model.outputs): re-export the artifact");
        }
        if (out.getBoolean("background") != background) {
            throw new IllegalArgumentException("output.background and model.background disagree: re-export the artifact");
        }
    }

    private static double[] doubles(JSONArray a) throws JSONException {
        double[] out = new double[a.length()];
        for (int i = 0; i < out.length; i++) out[i] = a.getDouble(i);
        return out;
    }
}
