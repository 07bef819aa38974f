package dev.mobiledeploy.demo;

import android.Manifest;
import android.content.pm.PackageManager;
import android.os.Bundle;
import android.util.Log;
import android.view.View;
import android.widget.AdapterView;
import android.widget.ArrayAdapter;
import android.widget.Spinner;
import android.widget.TextView;
import androidx.activity.result.ActivityResultLauncher;
import androidx.activity.result.contract.ActivityResultContracts;
import androidx.appcompat.app.AppCompatActivity;
import androidx.camera.core.CameraSelector;
import androidx.camera.core.ImageAnalysis;
import androidx.camera.core.ImageProxy;
import androidx.camera.core.Preview;
import androidx.camera.lifecycle.ProcessCameraProvider;
import androidx.camera.view.PreviewView;
import androidx.core.content.ContextCompat;
import com.google.common.util.concurrent.ListenableFuture;
import dev.mobiledeploy.processing.Frames;
import dev.mobiledeploy.processing.Postprocessor;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Camera preview plus live classification: CameraX Preview and ImageAnalysis (RGBA_8888, keep only the
 * latest frame), the artifact's preprocessing from the processing module, LiteRT, top-3 and timings.
 * The model and delegate can be switched while running.
 */
public class MainActivity extends AppCompatActivity {
    private static final String TAG = "mobiledeploy";
    private static final int THREADS = 4;

    private final ExecutorService analysis = Executors.newSingleThreadExecutor();
    private final Object lock = new Object();
    private ModelRunner runner;
    private List<String> models;
    private TextView results;
    private PreviewView preview;
    private String model;
    private ModelRunner.Delegate delegate = ModelRunner.Delegate.CPU;

    private final ActivityResultLauncher<String> permission =
            registerForActivityResult(new ActivityResultContracts.RequestPermission(), granted -> {
                if (granted) startCamera();
                else results.setText(R.string.camera_denied);
            });

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        setContentView(R.layout.activity_main);
        preview = findViewById(R.id.preview);
        results = findViewById(R.id.results);
        try {
            models = ModelRunner.bundled(getAssets());
        } catch (java.io.IOException e) {
            models = java.util.Collections.emptyList();
        }
        if (models.isEmpty()) {
            results.setText(R.string.no_models);
            return;
        }
        Spinner modelSpinner = findViewById(R.id.model);
        modelSpinner.setAdapter(new ArrayAdapter<>(this, android.R.layout.simple_spinner_dropdown_item, models));
        modelSpinner.setOnItemSelectedListener(listener(position -> load(models.get(position), delegate)));
        Spinner delegateSpinner = findViewById(R.id.delegate);
        delegateSpinner.setAdapter(new ArrayAdapter<>(this, android.R.layout.simple_spinner_dropdown_item,
                ModelRunner.Delegate.values()));
        delegateSpinner.setOnItemSelectedListener(listener(position -> load(model, ModelRunner.Delegate.values()[position])));
        load(models.get(0), delegate);
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            startCamera();
        } else {
            permission.launch(Manifest.permission.CAMERA);
        }
    }

    private void load(String name, ModelRunner.Delegate d) {
        analysis.execute(() -> {
            synchronized (lock) {
                if (runner != null && name.equals(model) && d == delegate) return;
                if (runner != null) runner.close();
                try {
                    runner = new ModelRunner(getAssets(), name, d, THREADS);
                    model = name;
                    delegate = d;
                } catch (Exception e) {
                    Log.e(TAG, "cannot load " + name, e);
                    runner = null;
                    runOnUiThread(() -> results.setText("cannot load " + name + ": " + e.getMessage()));
                }
            }
        });
    }

    private void startCamera() {
        ListenableFuture<ProcessCameraProvider> future = ProcessCameraProvider.getInstance(this);
        future.addListener(() -> {
            try {
                ProcessCameraProvider provider = future.get();
                Preview p = new Preview.Builder().build();
                p.setSurfaceProvider(preview.getSurfaceProvider());
                ImageAnalysis a = new ImageAnalysis.Builder()
                        .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                        .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                        .build();
                a.setAnalyzer(analysis, this::analyze);
                provider.unbindAll();
                provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, p, a);
            } catch (Exception e) {
                Log.e(TAG, "camera", e);
                results.setText("camera: " + e.getMessage());
            }
        }, ContextCompat.getMainExecutor(this));
    }

    private void analyze(ImageProxy image) {
        try {
            ImageProxy.PlaneProxy plane = image.getPlanes()[0];
            ByteBuffer buf = plane.getBuffer();
            byte[] rgba = new byte[buf.remaining()];
            buf.get(rgba);
            long t0 = android.os.SystemClock.elapsedRealtime();
            Frames.Rgb rgb = Frames.rotate(
                    Frames.rgbaToRgb(rgba, image.getWidth(), image.getHeight(), plane.getRowStride()),
                    image.getImageInfo().getRotationDegrees());
            long convertMs = android.os.SystemClock.elapsedRealtime() - t0;
            ModelRunner.Result r;
            String name;
            synchronized (lock) {
                if (runner == null) return;
                r = runner.classify(rgb, 3);
                name = runner.manifest.name + " / " + runner.file.name;
            }
            StringBuilder sb = new StringBuilder(name).append('\n');
            for (Postprocessor.Prediction p : r.top) {
                sb.append(String.format("%5.1f%%  %s%n", 100 * p.score, p.label.split(",")[0]));
            }
            sb.append(String.format("%s: inference %d ms, preprocess %d ms, convert %d ms",
                    r.delegate, r.inferenceMs, r.preprocessMs, convertMs));
            String text = sb.toString();
            runOnUiThread(() -> results.setText(text));
        } finally {
            image.close();
        }
    }

    @Override
    protected void onDestroy() {
        super.onDestroy();
        analysis.execute(() -> {
            synchronized (lock) {
                if (runner != null) runner.close();
            }
        });
        analysis.shutdown();
    }

    private interface OnSelect {
        void selected(int position);
    }

    private static AdapterView.OnItemSelectedListener listener(OnSelect f) {
        return new AdapterView.OnItemSelectedListener() {
            @Override
            public void onItemSelected(AdapterView<?> parent, View view, int position, long id) {
                f.selected(position);
            }

            @Override
            public void onNothingSelected(AdapterView<?> parent) {}
        };
    }
}
