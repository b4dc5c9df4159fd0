"""Reading user photos in every common format, on scikit-image's sample photographs (pictures
no one here made): expected pixels are computed independently with numpy from the originals."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from cocu.data.images import list_images, load_rgb, open_photo, photo_size
from cocu.errors import CocuError


def write_png16_rgb(path, arr):
    """uint16 [H, W, 3] → a 48-bit RGB PNG written by hand (Pillow cannot write one)."""
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def mean_abs(a, b):
    return float(np.abs(a.astype(np.int32) - b.astype(np.int32)).mean())


def test_jpeg_exif_orientation(tmp_path):
    cat = skdata.chelsea()  # 300 x 451
    stored = np.rot90(cat, 1)  # sideways on disk; orientation 6 = "rotate 90° clockwise to view"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "cat.jpg", quality=95, exif=exif)
    assert photo_size(tmp_path / "cat.jpg") == (300, 451)
    got = load_rgb(tmp_path / "cat.jpg")
    assert got.shape == cat.shape
    assert mean_abs(got, cat) < 3  # JPEG loss only; the sideways image would not even match in shape
    assert mean_abs(got[:, ::-1], cat) > 20


def test_png_alpha_over_white(tmp_path):
    coffee = skdata.coffee()  # 400 x 600, given an alpha ramp: opaque left → transparent right
    alpha = np.broadcast_to(np.linspace(255, 0, 600).astype(np.uint8), (400, 600))
    logo = np.dstack([coffee, alpha])
    Image.fromarray(logo).save(tmp_path / "logo.png")
    a = logo[..., 3:].astype(np.float64) / 255
    want = np.rint(logo[..., :3] * a + 255 * (1 - a)).astype(np.uint8)
    got = load_rgb(tmp_path / "logo.png")
    assert (a < 1).any() and np.abs(got.astype(int) - want).max() <= 1
    Image.fromarray(logo[..., [0, 3]], mode="LA").save(tmp_path / "la.png")
    assert load_rgb(tmp_path / "la.png").shape == (400, 600, 3)


def test_greyscale_and_16_bit(tmp_path):
    cam = skdata.camera()
    Image.fromarray(cam).save(tmp_path / "cam.png")
    assert np.array_equal(load_rgb(tmp_path / "cam.png"), np.repeat(cam[..., None], 3, axis=2))
    Image.fromarray(cam.astype(np.uint16) * 257).save(tmp_path / "cam16.png")
    with Image.open(tmp_path / "cam16.png") as im:
        assert im.mode.startswith("I")
    assert np.array_equal(load_rgb(tmp_path / "cam16.png")[..., 0], cam)  # not clipped to white
    astro = skdata.astronaut()
    write_png16_rgb(tmp_path / "astro48.png", astro.astype(np.uint16) * 257)
    assert np.array_equal(load_rgb(tmp_path / "astro48.png"), astro)
    assert np.array_equal(load_rgb(astro.astype(np.uint16) * 257), astro)  # arrays too


def test_cmyk_jpeg_webp_and_first_gif_frame(tmp_path):
    astro = skdata.astronaut()
    Image.fromarray(astro).convert("CMYK").save(tmp_path / "astro_cmyk.jpg", quality=95)
    with Image.open(tmp_path / "astro_cmyk.jpg") as im:
        assert im.mode == "CMYK"
    assert mean_abs(load_rgb(tmp_path / "astro_cmyk.jpg"), astro) < 4
    coffee = skdata.coffee()
    Image.fromarray(coffee).save(tmp_path / "coffee.webp", lossless=True)
    assert np.array_equal(load_rgb(tmp_path / "coffee.webp"), coffee)
    cat, rocket = skdata.chelsea(), skdata.rocket()[:300, :451]
    frames = [Image.fromarray(x).quantize(256) for x in (cat, rocket)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    with Image.open(tmp_path / "anim.gif") as im:
        assert im.n_frames == 2
    got = load_rgb(tmp_path / "anim.gif")
    assert mean_abs(got, cat) < 12 and mean_abs(got, rocket) > 30


def test_reduced_decode_keeps_the_full_size(tmp_path):
    big = np.asarray(Image.fromarray(skdata.rocket()).resize((2560, 1708)))
    Image.fromarray(big).save(tmp_path / "big.jpg", quality=90)
    photo = open_photo(tmp_path / "big.jpg", min_side=300)
    assert photo.size == (1708, 2560)
    assert min(photo.image.size) >= 300 and photo.image.size[0] <= 2560 // 2  # DCT-scaled decode
    assert open_photo(tmp_path / "big.jpg").image.size == (2560, 1708)


def test_bytes_files_and_errors(tmp_path):
    Image.fromarray(skdata.coffee()).save(tmp_path / "c.png")
    raw = (tmp_path / "c.png").read_bytes()
    assert np.array_equal(open_photo(raw).array(), skdata.coffee())
    with open(tmp_path / "c.png", "rb") as fh:
        assert photo_size(fh) == (400, 600) and open_photo(fh).size == (400, 600)
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not really")
    with pytest.raises(CocuError, match="cannot read image"):
        load_rgb(tmp_path / "bad.jpg")
    with pytest.raises(CocuError, match="not found"):
        load_rgb(tmp_path / "missing.png")


def test_list_images_folder_glob_and_errors(tmp_path):
    for name in ("b.jpg", "a.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.webp").write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.png", "b.jpg"]
    assert [p.name for p in list_images(str(tmp_path / "**" / "*.webp"))] == ["c.webp"]
    assert [p.name for p in list_images([tmp_path / "b.jpg", tmp_path])] == ["b.jpg", "a.png"]
    with pytest.raises(CocuError, match="no image files"):
        list_images(str(tmp_path / "*.gif"))
    with pytest.raises(CocuError, match="not found"):
        list_images(tmp_path / "nope.jpg")
