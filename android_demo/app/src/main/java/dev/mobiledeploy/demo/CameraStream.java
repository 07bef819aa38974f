package dev.mobiledeploy.demo;

import android.content.Context;
import android.graphics.ImageFormat;
import android.graphics.SurfaceTexture;
import android.hardware.camera2.CameraAccessException;
import android.hardware.camera2.CameraCaptureSession;
import android.hardware.camera2.CameraCharacteristics;
import android.hardware.camera2.CameraDevice;
import android.hardware.camera2.CameraManager;
import android.hardware.camera2.CaptureRequest;
import android.hardware.camera2.params.StreamConfigurationMap;
import android.media.Image;
import android.media.ImageReader;
import android.os.Handler;
import android.util.Size;
import android.view.Surface;
import dev.mobiledeploy.processing.Frames;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The platform Camera2 API (no CameraX: it is only on Google's Maven repository): the back camera (else the
 * first) streams to the preview and to an ImageReader of YUV_420_888 frames, which become upright RGB by
 * the processing module's rule (the one mobiledeploy/runtime/yuv.py defines). Callbacks run on `handler`.
 */
final class CameraStream {
    /** Receives upright RGB frames, and the camera's state as text (opening, streaming, errors). */
    interface Listener {
        void frame(Frames.Rgb rgb);

        void state(String text);
    }

    /** Frames at least this big on their short side are enough for 224-pixel models. */
    private static final int MIN_SHORT_SIDE = 480;

    private final CameraManager manager;
    private final Handler handler;
    private final Listener listener;
    private CameraDevice device;
    private CameraCaptureSession session;
    private ImageReader reader;
    private int rotation;

    CameraStream(Context context, Handler handler, Listener listener) {
        this.manager = (CameraManager) context.getSystemService(Context.CAMERA_SERVICE);
        this.handler = handler;
        this.listener = listener;
    }

    /** Open the camera and stream into `preview` (portrait display) and the frame listener. */
    void start(SurfaceTexture preview) {
        try {
            String id = chooseCamera();
            if (id == null) {
                listener.state("no camera");
                return;
            }
            CameraCharacteristics c = manager.getCameraCharacteristics(id);
            Integer sensor = c.get(CameraCharacteristics.SENSOR_ORIENTATION);
            // the activity is locked to portrait, so the frame turns by the sensor's own orientation
            rotation = sensor == null ? 0 : sensor;
            Size size = chooseSize(c.get(CameraCharacteristics.SCALER_STREAM_CONFIGURATION_MAP));
            preview.setDefaultBufferSize(size.getWidth(), size.getHeight());
            reader = ImageReader.newInstance(size.getWidth(), size.getHeight(), ImageFormat.YUV_420_888, 2);
            reader.setOnImageAvailableListener(r -> onImage(r.acquireLatestImage()), handler);
            listener.state("opening camera " + id);
            manager.openCamera(id, new CameraDevice.StateCallback() {
                @Override
                public void onOpened(CameraDevice camera) {
                    device = camera;
                    listener.state("camera " + id + " open");
                    startSession(new Surface(preview), "streaming from camera " + id + ", " + size + ", rotation " + rotation);
                }

                @Override
                public void onDisconnected(CameraDevice camera) {
                    camera.close();
                    listener.state("camera disconnected");
                }

                @Override
                public void onError(CameraDevice camera, int error) {
                    camera.close();
                    listener.state("camera error " + error);
                }
            }, handler);
        } catch (CameraAccessException | SecurityException | IllegalArgumentException e) {
            listener.state("camera: " + e.getMessage());
        }
    }

    /** Close the session, the camera and the reader. */
    void stop() {
        if (session != null) session.close();
        if (device != null) device.close();
        if (reader != null) reader.close();
        session = null;
        device = null;
        reader = null;
    }

    @SuppressWarnings("deprecation")  // the List<Surface> form: SessionConfiguration needs API 28, minSdk is 24
    private void startSession(Surface preview, String streaming) {
        try {
            List<Surface> targets = Arrays.asList(preview, reader.getSurface());
            device.createCaptureSession(targets, new CameraCaptureSession.StateCallback() {
                @Override
                public void onConfigured(CameraCaptureSession s) {
                    session = s;
                    try {
                        CaptureRequest.Builder b = device.createCaptureRequest(CameraDevice.TEMPLATE_PREVIEW);
                        for (Surface t : targets) b.addTarget(t);
                        s.setRepeatingRequest(b.build(), null, handler);
                        listener.state(streaming);
                    } catch (CameraAccessException | IllegalStateException e) {
                        listener.state("camera: " + e.getMessage());
                    }
                }

                @Override
                public void onConfigureFailed(CameraCaptureSession s) {
                    listener.state("camera: the capture session could not be configured");
                }
            }, handler);
        } catch (CameraAccessException e) {
            listener.state("camera: " + e.getMessage());
        }
    }

    private void onImage(Image image) {
        if (image == null) return;
        try {
            Image.Plane[] p = image.getPlanes();
            Frames.Rgb rgb = Frames.yuv420ToRgb(bytes(p[0].getBuffer()), p[0].getRowStride(),
                    bytes(p[1].getBuffer()), bytes(p[2].getBuffer()), p[1].getRowStride(), p[1].getPixelStride(),
                    image.getWidth(), image.getHeight());
            listener.frame(Frames.rotate(rgb, rotation));
        } finally {
            image.close();
        }
    }

    private static byte[] bytes(ByteBuffer buffer) {
        byte[] out = new byte[buffer.remaining()];
        buffer.get(out);
        return out;
    }

    private String chooseCamera() throws CameraAccessException {
        String[] ids = manager.getCameraIdList();
        for (String id : ids) {
            Integer facing = manager.getCameraCharacteristics(id).get(CameraCharacteristics.LENS_FACING);
            if (facing != null && facing == CameraCharacteristics.LENS_FACING_BACK) return id;
        }
        return ids.length > 0 ? ids[0] : null;
    }

    /** The smallest YUV size whose short side is at least MIN_SHORT_SIDE (else the largest). */
    private static Size chooseSize(StreamConfigurationMap map) {
        Size[] sizes = map == null ? null : map.getOutputSizes(ImageFormat.YUV_420_888);
        if (sizes == null || sizes.length == 0) return new Size(640, 480);
        List<Size> list = new ArrayList<>(Arrays.asList(sizes));
        list.sort((a, b) -> Long.compare((long) a.getWidth() * a.getHeight(), (long) b.getWidth() * b.getHeight()));
        for (Size s : list) {
            if (Math.min(s.getWidth(), s.getHeight()) >= MIN_SHORT_SIDE) return s;
        }
        return list.get(list.size() - 1);
    }
}
