package dev.mobiledeploy.processing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class FramesTest {
    /** A 3 x 2 image whose pixel (x, y) holds (x, y, 7). */
    private static Frames.Rgb sample() {
        byte[] d = new byte[3 * 2 * 3];
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 3; x++) {
                d[(y * 3 + x) * 3] = (byte) x;
                d[(y * 3 + x) * 3 + 1] = (byte) y;
                d[(y * 3 + x) * 3 + 2] = 7;
            }
        return new Frames.Rgb(3, 2, d);
    }

    private static int[] px(Frames.Rgb img, int x, int y) {
        int i = (y * img.width + x) * 3;
        return new int[] {img.data[i], img.data[i + 1], img.data[i + 2]};
    }

    @Test
    void rotate90ClockwiseMovesTopLeftToTopRight() {
        Frames.Rgb r = Frames.rotate(sample(), 90);
        assertEquals(2, r.width);
        assertEquals(3, r.height);
        assertArrayEquals(new int[] {0, 0, 7}, px(r, 1, 0));   // old top-left
        assertArrayEquals(new int[] {0, 1, 7}, px(r, 0, 0));   // old bottom-left
        assertArrayEquals(new int[] {2, 0, 7}, px(r, 1, 2));   // old top-right
    }

    @Test
    void fourQuarterTurnsAreIdentityAnd180IsTwo90s() {
        Frames.Rgb s = sample();
        Frames.Rgb r = s;
        for (int i = 0; i < 4; i++) r = Frames.rotate(r, 90);
        assertArrayEquals(s.data, r.data);
        assertArrayEquals(Frames.rotate(Frames.rotate(s, 90), 90).data, Frames.rotate(s, 180).data);
        assertArrayEquals(Frames.rotate(Frames.rotate(s, 180), 90).data, Frames.rotate(s, 270).data);
    }

    @Test
    void rgbaWithRowPaddingDropsAlphaAndPadding() {
        int w = 2, h = 2, stride = 12;  // 8 bytes of pixels + 4 of padding per row
        byte[] rgba = new byte[stride * h];
        Arrays.fill(rgba, (byte) 99);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int s = y * stride + x * 4;
                rgba[s] = (byte) (10 * x + y);
                rgba[s + 1] = 20;
                rgba[s + 2] = 30;
                rgba[s + 3] = (byte) 255;
            }
        Frames.Rgb rgb = Frames.rgbaToRgb(rgba, w, h, stride);
        assertArrayEquals(new byte[] {0, 20, 30, 10, 20, 30, 1, 20, 30, 11, 20, 30}, rgb.data);
    }

    @Test
    void yuvGreyAndPrimaries() {
        // 2 x 2 frame, one chroma sample; neutral chroma gives grey = luma
        Frames.Rgb grey = Frames.yuv420ToRgb(new byte[] {0, (byte) 128, (byte) 200, (byte) 255}, 2,
                new byte[] {(byte) 128}, new byte[] {(byte) 128}, 1, 1, 2, 2);
        assertArrayEquals(new byte[] {0, 0, 0, (byte) 128, (byte) 128, (byte) 128, (byte) 200, (byte) 200,
                (byte) 200, (byte) 255, (byte) 255, (byte) 255}, grey.data);
        // BT.601 full-range red (255, 0, 0) is Y 76, U 85, V 255
        Frames.Rgb red = Frames.yuv420ToRgb(new byte[] {76, 76, 76, 76}, 2, new byte[] {85},
                new byte[] {(byte) 255}, 1, 1, 2, 2);
        assertTrue((red.data[0] & 0xFF) >= 252 && (red.data[1] & 0xFF) <= 3 && (red.data[2] & 0xFF) <= 3,
                Arrays.toString(red.data));
    }

    @Test
    void topKStableOnTies() {
        Postprocessor p = new Postprocessor(null, List.of("a", "b", "c", "d"));
        List<Postprocessor.Prediction> top = p.top(new float[] {0.25f, 0.5f, 0.5f, 0.1f}, 3);
        assertEquals(1, top.get(0).index);
        assertEquals(2, top.get(1).index);
        assertEquals(0, top.get(2).index);
        assertEquals("b", top.get(0).label);
    }

    @Test
    void quantizeRoundsHalfUpAndClamps() throws Exception {
        String json = "{\"manifest_version\":1,\"name\":\"t\",\"model\":{\"architecture\":\"mobilenet_v2\",\"alpha\":0.5,\"resolution\":2,\"outputs\":4,"
                + "\"background\":false},\"labels\":{\"file\":\"labels.txt\"},\"input\":{\"shape\":[1,2,2,3],"
                + "\"layout\":\"NHWC\",\"color\":\"RGB\",\"crop\":{\"kind\":\"none\"},\"resize\":{\"method\":\"bilinear\","
                + "\"half_pixel_centers\":true,\"antialias\":false},\"mean\":[0,0,0],\"std\":[1,1,1]},"
                + "\"output\":{\"shape\":[1,4],\"kind\":\"probabilities\",\"background\":false},"
                + "\"files\":[{\"name\":\"m.tflite\",\"format\":\"tflite\",\"precision\":\"int8\","
                + "\"input\":{\"dtype\":\"int8\",\"quantization\":{\"scale\":1.0,\"zero_point\":0}},"
                + "\"output\":{\"dtype\":\"int8\",\"quantization\":{\"scale\":0.00390625,\"zero_point\":-128}}}]}";
        Manifest m = Manifest.parse(json);
        Preprocessor pre = new Preprocessor(m.input, m.file("m.tflite").input);
        assertEquals(1, pre.quantize(0.5, -128, 127));
        assertEquals(2, pre.quantize(1.5, -128, 127));
        assertEquals(0, pre.quantize(-0.5, -128, 127));
        assertEquals(127, pre.quantize(300, -128, 127));
        assertEquals(-128, pre.quantize(-300, -128, 127));
        assertEquals(2, m.input.width);
    }

    /** A manifest of a family this app has no name for, with what it says its output is. */
    private static String manifestOf(String architecture, String output) {
        return "{\"manifest_version\":1,\"name\":\"t\",\"model\":{\"architecture\":\"" + architecture + "\","
                + "\"alpha\":0.5,\"resolution\":2,\"outputs\":4,\"background\":false},\"labels\":{\"file\":\"l.txt\"},"
                + "\"input\":{\"shape\":[1,2,2,3],\"layout\":\"NHWC\",\"color\":\"RGB\",\"crop\":{\"kind\":\"none\"},"
                + "\"resize\":{\"method\":\"bilinear\",\"half_pixel_centers\":true,\"antialias\":false},"
                + "\"mean\":[127.5,127.5,127.5],\"std\":[127.5,127.5,127.5]},\"output\":" + output + ",\"files\":[]}";
    }

    @Test
    void anyFamilyWithTheOutputContractIsRun() {
        // no list of family names: a family the exporter gains later is read by what its manifest says
        Manifest m = Manifest.parse(manifestOf("shufflenet_v2",
                "{\"shape\":[1,4],\"kind\":\"probabilities\",\"background\":false}"));
        assertEquals("shufflenet_v2", m.architecture);
        assertEquals(4, m.outputs);
        assertEquals("future_net", Manifest.parse(manifestOf("future_net",
                "{\"shape\":[1,4],\"kind\":\"probabilities\",\"background\":false}")).architecture);
    }

    @Test
    void anOutputTheAppCannotReadIsRefusedWithTheReason() {
        String[][] cases = {
            {"{\"shape\":[1,4],\"kind\":\"boxes\",\"background\":false}", "output.kind \"boxes\""},
            {"{\"shape\":[1,5],\"kind\":\"probabilities\",\"background\":false}", "[1, 4]"},
            {"{\"shape\":[4],\"kind\":\"probabilities\",\"background\":false}", "output.shape"},
            {"{\"shape\":[1,4],\"kind\":\"probabilities\",\"background\":true}", "background"},
            {"{\"shape\":[1,4],\"background\":false}", "malformed manifest.json"},
        };
        for (String[] c : cases) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(
                    IllegalArgumentException.class, () -> Manifest.parse(manifestOf("detector_v9", c[0])), c[0]);
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains(c[1]), e.getMessage());
        }
        // the family's name is part of the reason when the output is what is wrong
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> Manifest.parse(manifestOf("detector_v9", "{\"shape\":[1,4],\"kind\":\"boxes\",\"background\":false}")));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("detector_v9"), e.getMessage());
    }
}
