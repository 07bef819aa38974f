package dev.mobiledeploy.demo;

import android.content.res.AssetFileDescriptor;
import android.content.res.AssetManager;
import dev.mobiledeploy.processing.Manifest;
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * One artifact from assets/models/NAME (as `mobiledeploy export` wrote it): its manifest, labels and the
 * TFLite file the app runs, memory-mapped from the APK. No TensorFlow Lite here, so it loads anywhere.
 */
final class BundledArtifact {
    final String name;
    final Manifest manifest;
    final Manifest.File file;
    final List<String> labels;
    final MappedByteBuffer model;

    /** Load it; IOException or IllegalArgumentException with a message fit to show the user. */
    BundledArtifact(AssetManager assets, String name) throws IOException {
        this.name = name;
        String dir = "models/" + name + "/";
        manifest = Manifest.parse(readText(assets, dir + "manifest.json"));
        file = choose(manifest);
        List<String> present = Arrays.asList(assets.list("models/" + name));
        for (String needed : new String[] {manifest.labelsFile, file.name}) {
            if (!present.contains(needed)) {
                throw new IOException(dir + needed + " is missing from the APK's assets: rebuild with the whole artifact");
            }
        }
        labels = readLines(assets, dir + manifest.labelsFile);
        if (labels.size() < manifest.outputs) {
            throw new IllegalArgumentException(dir + manifest.labelsFile + " has " + labels.size() + " lines for "
                    + manifest.outputs + " outputs");
        }
        model = map(assets, dir + file.name);
    }

    /** The Python runtime's default when it is a TFLite file (the only format the app runs), else the best TFLite. */
    static Manifest.File choose(Manifest manifest) {
        Manifest.File preferred = manifest.defaultFile();
        if ("tflite".equals(preferred.format)) return preferred;
        List<Manifest.File> tflite = manifest.tfliteFiles();
        if (tflite.isEmpty()) throw new IllegalArgumentException(manifest.name + " has no TFLite file");
        return tflite.get(0);
    }

    /** Names of the artifacts bundled in assets/models (folders holding a manifest.json), sorted. */
    static List<String> bundled(AssetManager assets) throws IOException {
        List<String> out = new ArrayList<>();
        String[] names = assets.list("models");
        if (names == null) return out;
        for (String n : names) {
            String[] inside = assets.list("models/" + n);
            if (inside != null && Arrays.asList(inside).contains("manifest.json")) out.add(n);
        }
        Collections.sort(out);
        return out;
    }

    private static MappedByteBuffer map(AssetManager assets, String path) throws IOException {
        // works because the build stores .tflite files uncompressed (build.sh, noCompress in Gradle)
        try (AssetFileDescriptor fd = assets.openFd(path);
             FileInputStream in = new FileInputStream(fd.getFileDescriptor())) {
            return in.getChannel().map(FileChannel.MapMode.READ_ONLY, fd.getStartOffset(), fd.getDeclaredLength());
        }
    }

    private static String readText(AssetManager assets, String path) throws IOException {
        return String.join("\n", readLines(assets, path));
    }

    private static List<String> readLines(AssetManager assets, String path) throws IOException {
        List<String> out = new ArrayList<>();
        try (InputStream in = assets.open(path);
             BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) out.add(line);
        }
        return out;
    }
}
