"""The light runtime: preprocessing rules, and that it never imports TensorFlow."""
import subprocess
import sys

import numpy as np

from mobiledeploy.runtime.preprocess import central_crop, input_spec, quantize, resize_bilinear, to_float64


def test_runtime_does_not_import_tensorflow(main_job, tmp_path):
    from PIL import Image

    Image.new("RGB", (30, 30), (10, 200, 30)).save(tmp_path / "g.png")
    code = ("import sys; from mobiledeploy.runtime.classifier import Classifier; "
            "from mobiledeploy.runtime.images import load_rgb; "
            f"c = Classifier({main_job[0]['artifact']!r}); c.classify(load_rgb({str(tmp_path / 'g.png')!r})); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_central_crop_follows_tf_rule():
    img = np.zeros((600, 512, 3), np.uint8)
    assert central_crop(img, 0.875).shape == (526, 448, 3)  # start int(37.5)=37 / int(32)=32


def test_resize_identity_and_constant():
    img = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    np.testing.assert_array_equal(resize_bilinear(img, 4, 5), img)
    flat = np.full((9, 7, 3), 77, np.uint8)
    np.testing.assert_array_equal(resize_bilinear(flat, 3, 4), np.full((3, 4, 3), 77.0))


def test_resize_matches_tensorflow_half_pixel_bilinear():
    from mobiledeploy.quiet import import_tf

    tf = import_tf()
    img = np.random.default_rng(0).integers(0, 256, (37, 53, 3)).astype(np.uint8)
    ours = resize_bilinear(img, 16, 16)
    theirs = tf.image.resize(img[None].astype(np.float32), (16, 16), method="bilinear", antialias=False)[0]
    np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-3)


def test_normalisation_maps_pixels_to_unit_range():
    spec = input_spec(8, crop=1.0)
    assert to_float64(np.zeros((8, 8, 3), np.uint8), spec).min() == -1.0
    assert to_float64(np.full((8, 8, 3), 255, np.uint8), spec).max() == 1.0


def test_quantize_rounds_half_up_and_clips():
    values = np.array([0.5, 1.5, -0.5, 300.0, -300.0])
    np.testing.assert_array_equal(quantize(values, 1.0, 0, np.int8), [1, 2, 0, 127, -128])


def test_exif_orientation_is_applied(tmp_path):
    """A phone photo stored sideways with EXIF orientation 6 (rotate 90 clockwise) is read upright."""
    from PIL import Image

    from mobiledeploy.runtime.images import load_rgb

    img = Image.new("RGB", (40, 20), (0, 0, 0))
    img.paste((255, 0, 0), (0, 0, 10, 20))          # the stored image's left edge is red
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(tmp_path / "sideways.jpg", exif=exif.tobytes(), quality=95)
    rgb = load_rgb(tmp_path / "sideways.jpg")
    assert rgb.shape == (40, 20, 3)                  # upright: 20 wide, 40 high
    assert rgb[:5, :, 0].mean() > 200 and rgb[-5:, :, 0].mean() < 60  # the red edge is now at the top
