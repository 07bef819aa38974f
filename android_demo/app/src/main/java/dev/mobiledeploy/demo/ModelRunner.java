package dev.mobiledeploy.demo;

import android.content.res.AssetFileDescriptor;
import android.content.res.AssetManager;
import android.os.SystemClock;
import dev.mobiledeploy.processing.Frames;
import dev.mobiledeploy.processing.Manifest;
import dev.mobiledeploy.processing.Postprocessor;
import dev.mobiledeploy.processing.Preprocessor;
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.lite.Interpreter;
import org.tensorflow.lite.gpu.CompatibilityList;
import org.tensorflow.lite.gpu.GpuDelegate;

/** One artifact from assets/models/NAME: its manifest, labels, model file and a LiteRT interpreter. */
final class ModelRunner implements AutoCloseable {
    enum Delegate { CPU, GPU, NNAPI }

    /** What one frame produced. */
    static final class Result {
        final List<Postprocessor.Prediction> top;
        final long preprocessMs;
        final long inferenceMs;
        final String delegate;

        Result(List<Postprocessor.Prediction> top, long preprocessMs, long inferenceMs, String delegate) {
            this.top = top;
            this.preprocessMs = preprocessMs;
            this.inferenceMs = inferenceMs;
            this.delegate = delegate;
        }
    }

    final Manifest manifest;
    final Manifest.File file;
    private final Interpreter interpreter;
    private final GpuDelegate gpu;
    private final Preprocessor pre;
    private final Postprocessor post;
    private final ByteBuffer input;
    private final ByteBuffer output;
    private final String delegateUsed;

    ModelRunner(AssetManager assets, String name, Delegate delegate, int threads) throws IOException {
        String dir = "models/" + name + "/";
        manifest = Manifest.parse(readText(assets, dir + "manifest.json"));
        file = manifest.tfliteFiles().get(0);  // int8 first: what phones run fastest on CPU
        List<String> labels = readLines(assets, dir + manifest.labelsFile);
        Interpreter.Options options = new Interpreter.Options().setNumThreads(threads).setUseXNNPACK(true);
        GpuDelegate gpuDelegate = null;
        String used = "CPU (XNNPACK)";
        if (delegate == Delegate.GPU) {
            CompatibilityList compat = new CompatibilityList();
            if (compat.isDelegateSupportedOnThisDevice()) {
                gpuDelegate = new GpuDelegate(compat.getBestOptionsForThisDevice());
                options.addDelegate(gpuDelegate);
                used = "GPU";
            } else {
                used = "CPU (GPU delegate not supported on this phone)";
            }
        } else if (delegate == Delegate.NNAPI) {
            options.setUseNNAPI(true);
            used = "NNAPI";
        }
        gpu = gpuDelegate;
        delegateUsed = used;
        interpreter = new Interpreter(map(assets, dir + file.name), options);
        pre = new Preprocessor(manifest.input, file.input);
        post = new Postprocessor(file.output, labels);
        input = ByteBuffer.allocateDirect(pre.tensorBytes()).order(ByteOrder.nativeOrder());
        int outBytes = manifest.outputs * ("float32".equals(file.output.dtype) ? 4 : 1);
        output = ByteBuffer.allocateDirect(outBytes).order(ByteOrder.nativeOrder());
    }

    /** Classify one upright RGB frame. */
    Result classify(Frames.Rgb frame, int k) {
        long t0 = SystemClock.elapsedRealtime();
        input.clear();
        pre.fill(frame.data, frame.width, frame.height, input);
        input.rewind();
        long t1 = SystemClock.elapsedRealtime();
        output.clear();
        interpreter.run(input, output);
        long t2 = SystemClock.elapsedRealtime();
        output.rewind();
        float[] scores = post.dequantize(output, manifest.outputs);
        return new Result(post.top(scores, k), t1 - t0, t2 - t1, delegateUsed);
    }

    @Override
    public void close() {
        interpreter.close();
        if (gpu != null) gpu.close();
    }

    /** Names of the artifacts bundled in assets/models. */
    static List<String> bundled(AssetManager assets) throws IOException {
        List<String> out = new ArrayList<>();
        String[] names = assets.list("models");
        if (names == null) return out;
        for (String n : names) {
            String[] inside = assets.list("models/" + n);
            if (inside != null) {
                for (String f : inside) {
                    if (f.equals("manifest.json")) out.add(n);
                }
            }
        }
        java.util.Collections.sort(out);
        return out;
    }

    private static MappedByteBuffer map(AssetManager assets, String path) throws IOException {
        AssetFileDescriptor fd = assets.openFd(path);  // stored uncompressed (noCompress "tflite")
        try (FileInputStream in = new FileInputStream(fd.getFileDescriptor())) {
            return in.getChannel().map(FileChannel.MapMode.READ_ONLY, fd.getStartOffset(), fd.getDeclaredLength());
        } finally {
            fd.close();
        }
    }

    private static String readText(AssetManager assets, String path) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (String line : readLines(assets, path)) sb.append(line).append('\n');
        return sb.toString();
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
