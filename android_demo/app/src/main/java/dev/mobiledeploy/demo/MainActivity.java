package dev.mobiledeploy.demo;

import android.Manifest;
import android.app.Activity;
import android.content.pm.PackageManager;
import android.graphics.SurfaceTexture;
import android.os.Bundle;
import android.os.Handler;
import android.os.HandlerThread;
import android.util.Log;
import android.view.TextureView;
import android.view.View;
import android.widget.AdapterView;
import android.widget.ArrayAdapter;
import android.widget.Spinner;
import android.widget.TextView;
import dev.mobiledeploy.processing.Frames;
import dev.mobiledeploy.processing.Postprocessor;
import java.io.IOException;
import java.util.Collections;
import java.util.List;

/**
 * Camera preview plus live classification, on the plain platform Activity and Camera2 (what builds both in
 * Android Studio and with android_demo/build.sh): the artifacts bundled in assets/models, switchable at
 * runtime with the delegate; top 3 and timings under the preview. Errors are shown in the text, never thrown.
 */
public class MainActivity extends Activity implements CameraStream.Listener {
    private static final String TAG = "mobiledeploy";
    private static final int THREADS = 4;
    private static final int CAMERA_REQUEST = 1;

    /** Loading, camera callbacks and inference run here, off the UI thread. */
    final HandlerThread worker = new HandlerThread("mobiledeploy-worker");
    private Handler handler;
    private CameraStream camera;
    private List<String> models = Collections.emptyList();
    private TextView results;
    private TextureView preview;
    private boolean permitted;
    private SurfaceTexture surface;
    // written only on the worker thread (artifact is read by tests too)
    private volatile BundledArtifact artifact;
    private ModelRunner runner;
    private ModelRunner.Delegate delegate = ModelRunner.Delegate.CPU;
    // the last camera state and load outcome, shown above the results (volatile: read on the UI thread)
    private volatile String cameraState = "waiting for the camera permission";
    private volatile String loadState = "";

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        setContentView(R.layout.activity_main);
        preview = findViewById(R.id.preview);
        results = findViewById(R.id.results);
        worker.start();
        handler = new Handler(worker.getLooper());
        camera = new CameraStream(this, handler, this);
        try {
            models = BundledArtifact.bundled(getAssets());
        } catch (IOException e) {
            loadState = "cannot list assets/models: " + e.getMessage();
        }
        if (models.isEmpty()) {
            loadState = getString(R.string.no_models);
            show(null);
        } else {
            Spinner modelSpinner = findViewById(R.id.model);
            modelSpinner.setAdapter(new ArrayAdapter<>(this, android.R.layout.simple_spinner_dropdown_item, models));
            modelSpinner.setOnItemSelectedListener(listener(position -> select(models.get(position), delegate)));
            Spinner delegateSpinner = findViewById(R.id.delegate);
            delegateSpinner.setAdapter(new ArrayAdapter<>(this, android.R.layout.simple_spinner_dropdown_item,
                    ModelRunner.Delegate.values()));
            delegateSpinner.setOnItemSelectedListener(listener(position ->
                    select(artifact == null ? models.get(0) : artifact.name, ModelRunner.Delegate.values()[position])));
            select(models.get(0), delegate);
        }
        preview.setSurfaceTextureListener(new TextureView.SurfaceTextureListener() {
            @Override
            public void onSurfaceTextureAvailable(SurfaceTexture texture, int width, int height) {
                surface = texture;
                startCameraIfReady();
            }

            @Override
            public void onSurfaceTextureSizeChanged(SurfaceTexture texture, int width, int height) {}

            @Override
            public boolean onSurfaceTextureDestroyed(SurfaceTexture texture) {
                surface = null;
                return true;
            }

            @Override
            public void onSurfaceTextureUpdated(SurfaceTexture texture) {}
        });
        if (checkSelfPermission(Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            permitted = true;
            state("waiting for the preview surface");
        } else {
            requestPermissions(new String[] {Manifest.permission.CAMERA}, CAMERA_REQUEST);
        }
    }

    @Override
    public void onRequestPermissionsResult(int requestCode, String[] permissions, int[] grantResults) {
        if (requestCode != CAMERA_REQUEST) return;
        permitted = grantResults.length > 0 && grantResults[0] == PackageManager.PERMISSION_GRANTED;
        state(permitted ? "waiting for the preview surface" : getString(R.string.camera_denied));
        startCameraIfReady();
    }

    private void startCameraIfReady() {
        SurfaceTexture s = surface;
        if (permitted && s != null) handler.post(() -> camera.start(s));
    }

    /** Switch to artifact `name` with delegate `d` (on the worker thread); the outcome shows in the text. */
    void select(String name, ModelRunner.Delegate d) {
        handler.post(() -> {
            // the spinners report again what is already chosen (e.g. on layout): no reload, not even after a failure
            if (artifact != null && name.equals(artifact.name) && d == delegate) return;
            if (runner != null) runner.close();
            runner = null;
            artifact = null;
            delegate = d;
            try {
                artifact = new BundledArtifact(getAssets(), name);
                runner = new ModelRunner(artifact, d, THREADS);
                loadState = name + " / " + artifact.file.name;
            } catch (IOException | RuntimeException e) {
                Log.e(TAG, "cannot load " + name, e);
                loadState = "cannot load " + name + ": " + e.getMessage();
            } catch (LinkageError e) {
                // the TFLite runtime ships native code for Android ABIs only (not, e.g., a desktop JVM)
                Log.e(TAG, "TensorFlow Lite did not load", e);
                loadState = "cannot run " + name + ": TensorFlow Lite's native library did not load ("
                        + e.getMessage() + ")";
            }
            show(null);
        });
    }

    /** The artifact loaded last, or null when it failed (worker thread state; read it after the worker idles). */
    BundledArtifact artifact() {
        return artifact;
    }

    @Override
    public void frame(Frames.Rgb rgb) {
        if (runner == null) return;
        ModelRunner.Result r = runner.classify(rgb, 3);
        StringBuilder sb = new StringBuilder();
        for (Postprocessor.Prediction p : r.top) {
            sb.append(String.format("%5.1f%%  %s%n", 100 * p.score, p.label.split(",")[0]));
        }
        sb.append(String.format("%s: inference %d ms, preprocess %d ms", r.delegate, r.inferenceMs, r.preprocessMs));
        show(sb.toString());
    }

    @Override
    public void state(String text) {
        Log.i(TAG, text);
        cameraState = text;
        show(null);
    }

    private void show(String predictions) {
        String text = loadState + "\n" + cameraState + (predictions == null ? "" : "\n" + predictions);
        runOnUiThread(() -> results.setText(text));
    }

    @Override
    protected void onDestroy() {
        super.onDestroy();
        handler.post(() -> {
            camera.stop();
            if (runner != null) runner.close();
        });
        worker.quitSafely();
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
