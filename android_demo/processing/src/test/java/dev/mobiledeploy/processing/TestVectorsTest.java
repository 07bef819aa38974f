package dev.mobiledeploy.processing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.json.JSONArray;
import org.json.JSONObject;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The vectors written by `mobiledeploy testvectors`: for every image, this module's input tensor must
 * equal the Python runtime's (within 1 quantization unit; bit-exact is the aim and is counted), and the
 * top-5 from LiteRT's reference output must be the same. Manifest.defaultFile() must pick the file the Python
 * runtime picks (vectors.json's default_file).
 */
class TestVectorsTest {
    static Path root() {
        return Paths.get(System.getProperty("testvectors.dir", "../testvectors"));
    }

    @TestFactory
    List<DynamicTest> vectors() throws IOException {
        Path root = root();
        assumeTrue(Files.isDirectory(root), "no test vectors at " + root.toAbsolutePath()
                + ": make them with mobiledeploy testvectors (pytest tests/android/test_android.py does)");
        List<Path> folders;
        try (Stream<Path> s = Files.list(root)) {
            folders = s.filter(p -> Files.exists(p.resolve("vectors.json"))).sorted().collect(Collectors.toList());
        }
        assumeTrue(!folders.isEmpty(), "no vectors.json under " + root);
        List<DynamicTest> tests = new ArrayList<>();
        for (Path folder : folders) {
            JSONObject doc = new JSONObject(read(folder.resolve("vectors.json")));
            Manifest manifest = Manifest.parse(read(folder.resolve("manifest.json")));
            Manifest.File file = manifest.file(doc.getString("file"));
            tests.add(DynamicTest.dynamicTest(folder.getFileName() + "/default file",
                    () -> assertEquals(doc.getString("default_file"), manifest.defaultFile().name,
                            "the Python runtime and the app choose different default files")));
            JSONArray cases = doc.getJSONArray("cases");
            for (int i = 0; i < cases.length(); i++) {
                JSONObject c = cases.getJSONObject(i);
                tests.add(DynamicTest.dynamicTest(folder.getFileName() + "/" + c.getString("name"),
                        () -> check(folder, manifest, file, doc, c)));
            }
        }
        return tests;
    }

    private void check(Path folder, Manifest manifest, Manifest.File file, JSONObject doc, JSONObject c)
            throws IOException {
        String name = c.getString("name");
        byte[] rgb = Files.readAllBytes(folder.resolve(name + ".rgb"));
        int w = c.getInt("width"), h = c.getInt("height");
        assertEquals(w * h * 3, rgb.length);
        Preprocessor pre = new Preprocessor(manifest.input, file.input);

        // the normalised values before quantization, against Python's (stored as float32)
        double[] values = pre.normalized(rgb, w, h);
        ByteBuffer f32 = ByteBuffer.wrap(Files.readAllBytes(folder.resolve(name + ".input_f32.bin")))
                .order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < values.length; i++) {
            assertEquals(f32.getFloat(i * 4), (float) values[i], 0.0f, "normalised value " + i);
        }

        // the tensor fed to the model
        ByteBuffer mine = ByteBuffer.allocate(pre.tensorBytes());
        pre.fill(rgb, w, h, mine);
        byte[] expected = Files.readAllBytes(folder.resolve(name + ".input.bin"));
        assertEquals(expected.length, mine.capacity());
        int exact = 0, maxDiff = 0, n;
        if ("float32".equals(file.input.dtype)) {
            ByteBuffer e = ByteBuffer.wrap(expected).order(ByteOrder.LITTLE_ENDIAN);
            mine.order(ByteOrder.nativeOrder());
            n = expected.length / 4;
            for (int i = 0; i < n; i++) {
                float a = mine.getFloat(i * 4), b = e.getFloat(i * 4);
                if (a == b) exact++;
                assertEquals(b, a, 1e-6f, "float input " + i);
            }
        } else {
            n = expected.length;
            boolean signed = "int8".equals(file.input.dtype);
            for (int i = 0; i < n; i++) {
                int a = signed ? mine.get(i) : mine.get(i) & 0xFF, b = signed ? expected[i] : expected[i] & 0xFF;
                if (a == b) exact++;
                maxDiff = Math.max(maxDiff, Math.abs(a - b));
            }
            assertTrue(maxDiff <= 1, "quantized input differs by " + maxDiff + " units");
        }
        System.out.printf("%s/%s: %d of %d input values bit-exact, max difference %d%n",
                folder.getFileName(), name, exact, n, maxDiff);

        // the same top-k from the reference output
        JSONObject out = doc.getJSONObject("output");
        Postprocessor post = new Postprocessor(file.output, null);
        ByteBuffer raw = ByteBuffer.wrap(Files.readAllBytes(folder.resolve(name + ".output.bin")))
                .order(ByteOrder.LITTLE_ENDIAN);
        float[] scores = post.dequantize(raw.order(ByteOrder.LITTLE_ENDIAN), out.getInt("size"));
        List<Postprocessor.Prediction> top = post.top(scores, doc.getInt("k"));
        JSONArray want = c.getJSONArray("top");
        for (int i = 0; i < want.length(); i++) {
            assertEquals(want.getJSONObject(i).getInt("index"), top.get(i).index, "top-" + (i + 1) + " index");
            assertEquals((float) want.getJSONObject(i).getDouble("score"), top.get(i).score, 1e-6f, "top score");
        }
    }

    private static String read(Path p) throws IOException {
        return new String(Files.readAllBytes(p), StandardCharsets.UTF_8);
    }
}
