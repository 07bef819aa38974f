package dev.mobiledeploy.demo;

import android.os.SystemClock;
import dev.mobiledeploy.processing.Frames;
import dev.mobiledeploy.processing.Postprocessor;
import dev.mobiledeploy.processing.Preprocessor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.tensorflow.lite.Interpreter;
import org.tensorflow.lite.Tensor;
import org.tensorflow.lite.gpu.CompatibilityList;
import org.tensorflow.lite.gpu.GpuDelegate;

/** A TensorFlow Lite interpreter for one bundled artifact, with the delegate asked for where the phone has it. */
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

    final BundledArtifact artifact;
    final Delegate delegate;
    private final Interpreter interpreter;
    private final GpuDelegate gpu;
    private final Preprocessor pre;
    private final Postprocessor post;
    private final ByteBuffer input;
    private final ByteBuffer output;
    private final String delegateUsed;

    /** Throws UnsatisfiedLinkError where libtensorflowlite_jni.so cannot load (any JVM off an Android ABI). */
    ModelRunner(BundledArtifact artifact, Delegate delegate, int threads) {
        this.artifact = artifact;
        this.delegate = delegate;
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
        interpreter = new Interpreter(artifact.model, options);
        try {
            checkTensor("input", artifact.file.input, interpreter.getInputTensor(0));
            checkTensor("output", artifact.file.output, interpreter.getOutputTensor(0));
        } catch (IllegalStateException e) {
            interpreter.close();
            if (gpuDelegate != null) gpuDelegate.close();
            throw e;
        }
        pre = new Preprocessor(artifact.manifest.input, artifact.file.input);
        post = new Postprocessor(artifact.file.output, artifact.labels);
        input = ByteBuffer.allocateDirect(pre.tensorBytes()).order(ByteOrder.nativeOrder());
        int outBytes = artifact.manifest.outputs * ("float32".equals(artifact.file.output.dtype) ? 4 : 1);
        output = ByteBuffer.allocateDirect(outBytes).order(ByteOrder.nativeOrder());
    }

    /**
     * The manifest's dtype and quantization must be the file's own (the Python runtime checks the same in
     * mobiledeploy/runtime/classifier.py check_io): otherwise the app would feed the file wrongly, silently.
     */
    private static void checkTensor(String side, dev.mobiledeploy.processing.Manifest.Tensor declared, Tensor actual) {
        String dtype;
        switch (actual.dataType()) {
            case FLOAT32: dtype = "float32"; break;
            case UINT8: dtype = "uint8"; break;
            case INT8: dtype = "int8"; break;
            default: dtype = actual.dataType().toString().toLowerCase(java.util.Locale.ROOT);
        }
        boolean quantized = !"float32".equals(dtype);
        Tensor.QuantizationParams q = actual.quantizationParams();
        boolean sameQuant = !quantized
                || (Math.abs(declared.scale - q.getScale()) <= 1e-6 * Math.max(1.0, Math.abs(q.getScale()))
                    && declared.zeroPoint == q.getZeroPoint());
        if (!dtype.equals(declared.dtype) || !sameQuant) {
            throw new IllegalStateException("the manifest says the model's " + side + " is " + declared.dtype
                    + " (scale " + declared.scale + ", zero point " + declared.zeroPoint + "), the file's is " + dtype
                    + " (scale " + q.getScale() + ", zero point " + q.getZeroPoint() + "): re-export the artifact");
        }
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
        float[] scores = post.dequantize(output, artifact.manifest.outputs);
        return new Result(post.top(scores, k), t1 - t0, t2 - t1, delegateUsed);
    }

    @Override
    public void close() {
        interpreter.close();
        if (gpu != null) gpu.close();
    }
}
