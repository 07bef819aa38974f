package dev.mobiledeploy.demo;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;
import static org.robolectric.Shadows.shadowOf;

import android.Manifest;
import android.app.Application;
import android.content.Context;
import android.content.pm.PackageManager;
import android.graphics.SurfaceTexture;
import android.hardware.camera2.CameraCharacteristics;
import android.hardware.camera2.CameraManager;
import android.os.Looper;
import android.view.TextureView;
import android.widget.Spinner;
import android.widget.TextView;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.json.JSONException;
import org.json.JSONObject;
import org.junit.After;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.robolectric.Robolectric;
import org.robolectric.RobolectricTestRunner;
import org.robolectric.RuntimeEnvironment;
import org.robolectric.android.controller.ActivityController;
import org.robolectric.annotation.Config;
import org.robolectric.shadows.ShadowCameraCharacteristics;

/**
 * The Activity on Robolectric's Android 15 (android-all-instrumented, resolved by Maven), with the resources and
 * assets of the APK given as robolectric.apk: build.sh's, or the one tests/android/test_android_apk.py makes from it with
 * two real exported artifacts plus a corrupt-manifest and a missing-model one.
 *
 * What Robolectric cannot show here: TensorFlow Lite's libtensorflowlite_jni.so is built for Android's ABIs
 * and bionic, so it does not load on this x86-64 JVM. Every artifact therefore ends at "TensorFlow Lite's
 * native library did not load", which the app must show rather than crash on; everything before the
 * interpreter (assets, manifest, labels, the mapped model) is real. Inference, the camera's real frames,
 * delegates and latency are only seen on a device.
 */
@RunWith(RobolectricTestRunner.class)
@Config(sdk = 35)
public class MainActivityTest {
    private static final File APK = new File(System.getProperty("robolectric.apk", "../build/mobiledeploy-demo.apk"));
    private ActivityController<MainActivity> controller;

    private MainActivity launch(boolean cameraPermitted) {
        Application app = RuntimeEnvironment.getApplication();
        if (cameraPermitted) shadowOf(app).grantPermissions(Manifest.permission.CAMERA);
        else shadowOf(app).denyPermissions(Manifest.permission.CAMERA);
        controller = Robolectric.buildActivity(MainActivity.class).setup();
        MainActivity activity = controller.get();
        idle(activity);
        return activity;
    }

    /** Let the worker thread finish what was posted and the UI thread show it, twice: each can post to the other. */
    private static void idle(MainActivity activity) {
        for (int i = 0; i < 2; i++) {
            shadowOf(activity.worker.getLooper()).idle();
            shadowOf(Looper.getMainLooper()).idle();
        }
    }

    private static String text(MainActivity activity) {
        return ((TextView) activity.findViewById(R.id.results)).getText().toString();
    }

    /** The artifact folders in the APK's assets, read as a plain zip (not through AssetManager). */
    private static List<String> artifactsOnDisk() {
        List<String> out = new ArrayList<>();
        if (!APK.isFile()) return out;  // under Gradle: no build.sh APK, the tests that need artifacts skip
        try (ZipFile zip = new ZipFile(APK)) {
            for (ZipEntry e : Collections.list(zip.entries())) {
                String[] parts = e.getName().split("/");
                if (parts.length == 4 && parts[0].equals("assets") && parts[1].equals("models")
                        && parts[3].equals("manifest.json")) out.add(parts[2]);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Collections.sort(out);
        return out;
    }

    private static byte[] asset(String path) throws IOException {
        try (ZipFile zip = new ZipFile(APK); InputStream in = zip.getInputStream(zip.getEntry("assets/" + path))) {
            return in.readAllBytes();
        }
    }

    private static long assetSize(String path) throws IOException {
        try (ZipFile zip = new ZipFile(APK)) {
            return zip.getEntry("assets/" + path).getSize();
        }
    }

    private static List<String> good() {
        List<String> out = new ArrayList<>(artifactsOnDisk());
        out.removeAll(Arrays.asList("corrupt-manifest", "missing-model"));
        return out;
    }

    private static void addBackCamera() {
        CameraManager manager = (CameraManager) RuntimeEnvironment.getApplication()
                .getSystemService(Context.CAMERA_SERVICE);
        CameraCharacteristics c = ShadowCameraCharacteristics.newCameraCharacteristics();
        shadowOf(c).set(CameraCharacteristics.LENS_FACING, CameraCharacteristics.LENS_FACING_BACK);
        shadowOf(c).set(CameraCharacteristics.SENSOR_ORIENTATION, 90);
        shadowOf(manager).addCamera("0", c);
    }

    private static void previewReady(MainActivity activity) {
        TextureView preview = activity.findViewById(R.id.preview);
        preview.getSurfaceTextureListener().onSurfaceTextureAvailable(new SurfaceTexture(0), 640, 480);
        idle(activity);
    }

    @After
    public void tearDown() {
        if (controller != null) {
            controller.pause().stop().destroy();
            shadowOf(Looper.getMainLooper()).idle();
        }
    }

    @Test
    public void permissionGrantedOpensTheBackCameraOncePreviewIsReady() {
        addBackCamera();
        MainActivity activity = launch(true);
        assertNull("no permission request when already granted", shadowOf(activity).getLastRequestedPermission());
        assertTrue(text(activity), text(activity).contains("waiting for the preview surface"));
        previewReady(activity);
        // Robolectric's camera service opens the camera and configures the session (no frames arrive)
        assertTrue(text(activity), text(activity).contains("streaming from camera 0"));
        assertTrue(text(activity), text(activity).contains("rotation 90"));
    }

    @Test
    public void permissionDeniedShowsWhyAndNeverOpensTheCamera() {
        addBackCamera();
        MainActivity activity = launch(false);
        assertTrue(Arrays.asList(shadowOf(activity).getLastRequestedPermission().requestedPermissions)
                .contains(Manifest.permission.CAMERA));
        activity.onRequestPermissionsResult(shadowOf(activity).getLastRequestedPermission().requestCode,
                new String[] {Manifest.permission.CAMERA}, new int[] {PackageManager.PERMISSION_DENIED});
        previewReady(activity);
        String shown = text(activity);
        assertTrue(shown, shown.contains(activity.getString(R.string.camera_denied)));
        assertFalse(shown, shown.contains("camera 0"));
        assertFalse(activity.isFinishing());
    }

    @Test
    public void listsTheArtifactsBundledInAssets() {
        List<String> expected = artifactsOnDisk();
        assumeTrue("no artifact in " + APK, !expected.isEmpty());
        MainActivity activity = launch(true);
        Spinner spinner = activity.findViewById(R.id.model);
        List<String> listed = new ArrayList<>();
        for (int i = 0; i < spinner.getAdapter().getCount(); i++) listed.add((String) spinner.getAdapter().getItem(i));
        assertEquals(expected, listed);
    }

    @Test
    public void switchingTheArtifactAtRuntimeLoadsItsManifestAndFile() throws Exception {
        List<String> good = good();
        assumeTrue("needs two artifacts in " + APK, good.size() >= 2);
        MainActivity activity = launch(true);
        List<String> all = artifactsOnDisk();
        for (String name : new String[] {good.get(1), good.get(0)}) {
            Spinner spinner = activity.findViewById(R.id.model);
            int position = all.indexOf(name);
            spinner.setSelection(position);
            // AdapterView reports a selection from its layout pass, which Robolectric does not run: deliver it
            spinner.getOnItemSelectedListener().onItemSelected(spinner, spinner.getSelectedView(), position, position);
            idle(activity);
            BundledArtifact loaded = activity.artifact();
            assertNotNull(text(activity), loaded);
            assertEquals(name, loaded.name);
            JSONObject raw = new JSONObject(new String(asset("models/" + name + "/manifest.json"), StandardCharsets.UTF_8));
            assertEquals(raw.getString("name"), loaded.manifest.name);
            assertEquals(loaded.manifest.defaultFile().name, loaded.file.name);
            assertEquals(assetSize("models/" + name + "/" + loaded.file.name), loaded.model.capacity());
            assertEquals(loaded.manifest.outputs, loaded.labels.size());
            String shown = text(activity);
            // the interpreter is the one part that cannot run here (see the class comment)
            assertTrue(shown, shown.contains("cannot run " + name + ": TensorFlow Lite's native library did not load"));
            assertFalse(activity.isFinishing());
        }
    }

    @Test
    public void theManifestIsParsedByAndroidsOwnOrgJson() throws Exception {
        // Android's JSONException is checked (Maven Central's org.json makes it unchecked): this class comes from
        // android-all, the library the app is compiled and run against
        assertFalse(RuntimeException.class.isAssignableFrom(JSONException.class));
        List<String> good = good();
        assumeTrue("no artifact in " + APK, !good.isEmpty());
        MainActivity activity = launch(true);
        activity.select(good.get(0), ModelRunner.Delegate.CPU);
        idle(activity);
        BundledArtifact loaded = activity.artifact();
        assertNotNull(text(activity), loaded);
        JSONObject raw = new JSONObject(new String(asset("models/" + good.get(0) + "/manifest.json"), StandardCharsets.UTF_8));
        JSONObject model = raw.getJSONObject("model");
        assertEquals(model.getDouble("alpha"), loaded.manifest.alpha, 0.0);
        assertEquals(model.getInt("resolution"), loaded.manifest.resolution);
        assertEquals(model.getInt("resolution"), loaded.manifest.input.width);
        assertEquals(raw.getJSONArray("files").length(), loaded.manifest.files.size());
    }

    @Test
    public void aCorruptManifestIsShownNotThrown() {
        assumeTrue("no corrupt-manifest fixture", artifactsOnDisk().contains("corrupt-manifest"));
        MainActivity activity = launch(true);
        activity.select("corrupt-manifest", ModelRunner.Delegate.CPU);
        idle(activity);
        String shown = text(activity);
        // Android's org.json names the position ("End of input at character 1234", "Unterminated string at ...")
        assertTrue(shown, shown.contains("cannot load corrupt-manifest: malformed manifest.json: "));
        assertTrue(shown, shown.contains(" at character "));
        assertTrue("the message stays one short line, without the JSON text: " + shown, shown.length() < 400);
        assertNull(activity.artifact());
        assertFalse(activity.isFinishing());
    }

    @Test
    public void aMissingModelFileIsShownNotThrown() {
        assumeTrue("no missing-model fixture", artifactsOnDisk().contains("missing-model"));
        MainActivity activity = launch(true);
        activity.select("missing-model", ModelRunner.Delegate.GPU);
        idle(activity);
        String shown = text(activity);
        assertTrue(shown, shown.contains("cannot load missing-model: models/missing-model/"));
        assertTrue(shown, shown.contains("is missing from the APK's assets"));
        assertNull(activity.artifact());
        assertFalse(activity.isFinishing());
    }
}
