"""mobiledeploy/runtime/yuv.py, the reference the app's Camera2 frame conversion is checked against (bit for bit,
in tests/test_android.py): here, that the rule itself is right, on real photos and on known colours."""
import numpy as np
import pytest

from conftest import shared
from mobiledeploy.runtime import yuv
from mobiledeploy.runtime.images import find_images, load_rgb


def _photos():
    return [load_rgb(p)[:120, :160] for p in find_images(shared("images"))]


@pytest.mark.parametrize("padding,interleaved", [(0, False), (16, False), (3, True), (0, True)])
def test_row_padding_and_chroma_layout_do_not_change_the_pixels(padding, interleaved):
    for rgb in _photos():
        plain = yuv.to_rgb(yuv.from_rgb(rgb))
        assert np.array_equal(yuv.to_rgb(yuv.from_rgb(rgb, row_padding=padding, interleaved=interleaved)), plain)


def test_round_trip_stays_close_to_the_photo():
    # 4:2:0 keeps one chroma sample per 2x2 block, so edges lose colour; on whole photos the mean error stays
    # small (measured 0.3-2.5 levels on the 9 photos), and well below what swapped U/V planes give on the
    # colourful ones (measured 9-117)
    for rgb in _photos():
        back = yuv.to_rgb(yuv.from_rgb(rgb)).astype(int)
        assert np.abs(back - rgb.astype(int)).mean() < 4
        swapped = yuv.from_rgb(rgb)
        swapped.u, swapped.v = swapped.v, swapped.u
        if rgb.std(axis=2).mean() > 10:  # colourful enough for a U/V swap to show
            assert np.abs(yuv.to_rgb(swapped).astype(int) - rgb.astype(int)).mean() > 6


@pytest.mark.parametrize("colour,planes", [
    ((0, 0, 0), (0, 128, 128)), ((255, 255, 255), (255, 128, 128)), ((128, 128, 128), (128, 128, 128)),
    ((254, 0, 0), (76, 85, 255)), ((0, 255, 1), (150, 44, 21)), ((0, 0, 255), (29, 255, 107)),
])
def test_known_colours(colour, planes):
    # JFIF (BT.601 full range) values of flat colours; each channel within 1 level of the source after rounding
    frame = yuv.from_rgb(np.full((4, 6, 3), colour, np.uint8))
    assert (frame.y[0], frame.u[0], frame.v[0]) == planes
    out = yuv.to_rgb(frame)
    assert np.abs(out.astype(int) - np.array(colour)).max() <= 1, out[0, 0]


def test_rotation_is_clockwise_and_odd_sizes_keep_their_last_chroma():
    rgb = np.zeros((3, 5, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)  # top-left red
    assert tuple(yuv.rotate(rgb, 90)[0, -1]) == (255, 0, 0)  # moves to top-right
    assert tuple(yuv.rotate(rgb, 180)[-1, -1]) == (255, 0, 0)
    assert tuple(yuv.rotate(rgb, 270)[-1, 0]) == (255, 0, 0)
    assert yuv.rotate(rgb, 90).shape == (5, 3, 3)
    rgb[:, 4] = (0, 0, 255)  # an odd last column has its own chroma sample
    out = yuv.to_rgb(yuv.from_rgb(rgb, row_padding=7, interleaved=True))
    assert out[1, 4, 2] > 200 and out[1, 4, 0] < 60
    with pytest.raises(ValueError, match="multiple of 90"):
        yuv.rotate(rgb, 45)
