package dev.mobiledeploy.processing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.json.JSONArray;
import org.json.JSONObject;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Camera2 YUV_420_888 frames from `mobiledeploy testvectors` (folder yuv/): padded rows, planar and interleaved
 * chroma, odd sizes, every rotation. Frames.yuv420ToRgb then Frames.rotate must give mobiledeploy/runtime/yuv.py's
 * RGB bit for bit: both sides use the same integer rule, so no tolerance.
 */
class YuvVectorsTest {
    @TestFactory
    List<DynamicTest> frames() throws IOException {
        Path folder = TestVectorsTest.root().resolve("yuv");
        assumeTrue(Files.exists(folder.resolve("frames.json")), "no YUV vectors at " + folder.toAbsolutePath()
                + ": make them with mobiledeploy testvectors (pytest tests/android/test_android.py does)");
        JSONArray cases = new JSONObject(Files.readString(folder.resolve("frames.json"), StandardCharsets.UTF_8))
                .getJSONArray("cases");
        List<DynamicTest> tests = new ArrayList<>();
        for (int i = 0; i < cases.length(); i++) {
            JSONObject c = cases.getJSONObject(i);
            tests.add(DynamicTest.dynamicTest("yuv/" + c.getString("name"), () -> check(folder, c)));
        }
        return tests;
    }

    private static void check(Path folder, JSONObject c) throws IOException {
        String name = c.getString("name");
        byte[] y = Files.readAllBytes(folder.resolve(name + ".y"));
        byte[] u = Files.readAllBytes(folder.resolve(name + ".u"));
        byte[] v = Files.readAllBytes(folder.resolve(name + ".v"));
        Frames.Rgb rgb = Frames.rotate(Frames.yuv420ToRgb(y, c.getInt("y_row_stride"), u, v, c.getInt("uv_row_stride"),
                c.getInt("uv_pixel_stride"), c.getInt("width"), c.getInt("height")), c.getInt("rotation"));
        assertEquals(c.getInt("rgb_width"), rgb.width, "width after rotation");
        assertEquals(c.getInt("rgb_height"), rgb.height, "height after rotation");
        assertArrayEquals(Files.readAllBytes(folder.resolve(name + ".rgb")), rgb.data, "RGB of " + name);
        System.out.printf("yuv/%s: %dx%d, row stride %d, pixel stride %d, rotation %d: %d RGB bytes bit-exact%n", name,
                c.getInt("width"), c.getInt("height"), c.getInt("y_row_stride"), c.getInt("uv_pixel_stride"),
                c.getInt("rotation"), rgb.data.length);
    }
}
