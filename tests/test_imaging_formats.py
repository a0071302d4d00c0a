"""Every format a user can drop on the viewer decodes to the right grey picture."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import shared_data
from imaging_factories import allow_tiny_images, gradient, write_dicom
from xrayviewer.imaging import find_images, load_image, preprocess
from xrayviewer.imaging.windowing import window_lut_bounds


@pytest.fixture(autouse=True)
def _tiny_images_allowed(monkeypatch):
    allow_tiny_images(monkeypatch)  # these tests are about formats, not sizes


def _window_spans(image, lo, hi):
    low, high = window_lut_bounds(image.window_center, image.window_width)
    assert low == pytest.approx(lo)
    assert high == pytest.approx(hi)


# --------------------------------------------------------------------------- raster formats

def test_jpeg_greyscale(tmp_path):
    ref = gradient()
    Image.fromarray(ref, "L").save(tmp_path / "g.jpg", quality=95)
    im = load_image(tmp_path / "g.jpg")
    assert im.source_format == "JPEG"
    assert im.bit_depth == 8
    assert im.pixels.dtype == np.uint8
    assert (im.height, im.width) == ref.shape
    assert np.abs(im.pixels.astype(int) - ref).mean() < 2.0
    assert im.colourfulness == 0.0
    # 8-bit pictures are shown as stored.
    assert np.array_equal(im.display(), im.pixels)


def test_jpeg_rgb_grey_content(tmp_path):
    ref = gradient()
    Image.fromarray(ref, "L").convert("RGB").save(tmp_path / "rgb.jpeg", quality=95)
    im = load_image(tmp_path / "rgb.jpeg")
    assert im.pixels.ndim == 2
    assert im.pixels.shape == ref.shape
    assert np.abs(im.pixels.astype(int) - ref).mean() < 2.0
    assert im.colourfulness < 2.0


def test_png_8bit_exact(tmp_path):
    ref = gradient()
    Image.fromarray(ref, "L").save(tmp_path / "g.png")
    im = load_image(tmp_path / "g.png")
    assert im.source_format == "PNG"
    assert im.bit_depth == 8
    assert np.array_equal(im.pixels, ref)


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_16bit_values_survive_and_window_spans_data(tmp_path, ext):
    ref = gradient(dtype=np.uint16, lo=1200, hi=47000)
    img = Image.fromarray(ref)
    assert img.mode == "I;16"
    img.save(tmp_path / f"deep.{ext}")
    im = load_image(tmp_path / f"deep.{ext}")
    assert im.bit_depth == 16
    assert im.pixels.dtype == np.uint16
    assert np.array_equal(im.pixels, ref)
    _window_spans(im, 1200, 47000)
    shown = im.display()
    assert shown.dtype == np.uint8
    assert shown[ref == ref.min()].max() == 0
    assert shown[ref == ref.max()].min() == 255
    # Monotone: brighter stored value never shows darker.
    order = np.argsort(ref.ravel(), kind="stable")
    assert np.all(np.diff(shown.ravel()[order].astype(int)) >= 0)


def test_tiff_8bit(tmp_path):
    ref = gradient()
    Image.fromarray(ref, "L").save(tmp_path / "g.tiff")
    im = load_image(tmp_path / "g.tiff")
    assert im.source_format == "TIFF"
    assert im.bit_depth == 8
    assert np.array_equal(im.pixels, ref)


def test_bmp(tmp_path):
    ref = gradient()
    Image.fromarray(ref, "L").save(tmp_path / "g.bmp")
    im = load_image(tmp_path / "g.bmp")
    assert im.source_format == "BMP"
    assert np.array_equal(im.pixels, ref)


def test_rgba_transparent_area_is_black(tmp_path):
    rgba = np.zeros((20, 40, 4), np.uint8)
    rgba[..., :3] = 255  # white everywhere ...
    rgba[:, :20, 3] = 255  # ... opaque on the left, fully transparent on the right
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    im = load_image(tmp_path / "a.png")
    assert im.pixels.shape == (20, 40)
    assert (im.pixels[:, :20] == 255).all()
    assert (im.pixels[:, 20:] == 0).all()


def test_la_transparent_area_is_black(tmp_path):
    la = Image.merge("LA", [Image.new("L", (30, 10), 200),
                            Image.fromarray(np.repeat([[255] * 15 + [0] * 15], 10, axis=0).astype(np.uint8))])
    la.save(tmp_path / "la.png")
    im = load_image(tmp_path / "la.png")
    assert (im.pixels[:, :15] == 200).all()
    assert (im.pixels[:, 15:] == 0).all()
    assert im.colourfulness < 1.0


def test_palette_image_is_grey(tmp_path):
    ref = gradient(16, 32)
    pal = Image.fromarray(ref, "L").convert("P")
    assert pal.mode == "P"
    pal.save(tmp_path / "p.png")
    im = load_image(tmp_path / "p.png")
    assert im.pixels.ndim == 2
    assert np.abs(im.pixels.astype(int) - ref).max() <= 1
    assert im.colourfulness < 1.0


def test_palette_with_transparency_is_black_there(tmp_path):
    pal = Image.new("P", (20, 10), 1)
    pal.putpalette([0, 0, 0, 180, 180, 180] + [0] * (254 * 3))
    pal.paste(2, (10, 0, 20, 10))
    pal.putpalette([0, 0, 0, 180, 180, 180, 255, 255, 255] + [0] * (253 * 3))
    pal.info["transparency"] = 2
    pal.save(tmp_path / "pt.png", transparency=2)
    im = load_image(tmp_path / "pt.png")
    assert (im.pixels[:, :10] == 180).all()
    assert (im.pixels[:, 10:] == 0).all()


@pytest.mark.parametrize("ext", ["tif", "jpg"])
def test_cmyk_grey_stays_grey(tmp_path, ext):
    k = gradient(16, 32, lo=0, hi=200)
    zeros = np.zeros_like(k)
    cmyk = Image.merge("CMYK", [Image.fromarray(zeros), Image.fromarray(zeros), Image.fromarray(zeros),
                                Image.fromarray(k)])
    cmyk.save(tmp_path / f"c.{ext}", **({"quality": 95} if ext == "jpg" else {}))
    im = load_image(tmp_path / f"c.{ext}")
    assert im.pixels.ndim == 2
    assert im.colourfulness < 2.0
    tol = 0 if ext == "tif" else 4
    assert np.abs(im.pixels.astype(int) - (255 - k.astype(int))).mean() <= max(tol, 0.5)


def test_exif_orientation_is_honoured(tmp_path):
    stored = np.full((20, 40), 30, np.uint8)  # 40 wide, 20 tall as stored
    stored[:6, :6] = 250  # mark the stored top-left corner
    img = Image.fromarray(stored, "L")
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to view
    img.save(tmp_path / "o.jpg", exif=exif, quality=95)
    im = load_image(tmp_path / "o.jpg")
    assert (im.width, im.height) == (20, 40)
    # Rotating 90 degrees clockwise takes the stored top-left corner to the top-right.
    assert im.pixels[:5, -5:].mean() > 200
    assert im.pixels[:5, :5].mean() < 80
    assert im.pixels[-5:, -5:].mean() < 80


def test_colourfulness_large_for_colour_picture(tmp_path):
    h, w = 64, 96
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[:, : w // 3] = (230, 20, 20)
    rgb[:, w // 3: 2 * w // 3] = (20, 200, 30)
    rgb[:, 2 * w // 3:] = (30, 40, 220)
    Image.fromarray(rgb, "RGB").save(tmp_path / "photo.png")
    Image.fromarray(gradient(h, w), "L").convert("RGB").save(tmp_path / "greyrgb.png")
    colour = load_image(tmp_path / "photo.png")
    grey = load_image(tmp_path / "greyrgb.png")
    assert grey.colourfulness < 1.0
    assert colour.colourfulness > 30.0
    assert colour.pixels.ndim == 2


# --------------------------------------------------------------------------- DICOM (real files)

def test_shared_dicom_pair_display_and_preprocess_identically():
    m1 = load_image(shared_data("dicom", "chest_cr_monochrome1.dcm"))
    m2 = load_image(shared_data("dicom", "chest_cr_monochrome2.dcm"))
    assert m1.source_format == m2.source_format == "DICOM"
    assert m1.invert and not m2.invert
    assert m1.dicom.photometric_interpretation == "MONOCHROME1"
    assert m2.dicom.photometric_interpretation == "MONOCHROME2"
    d1, d2 = m1.display(), m2.display()
    assert d1.shape == d2.shape == (1024, 1024)
    assert int(np.abs(d1.astype(int) - d2.astype(int)).max()) == 0
    # The viewer's Invert tool flips both the same way.
    assert np.array_equal(m1.display(invert=True), m2.display(invert=True))
    assert np.array_equal(m1.display(invert=True), 255 - d2)
    assert np.array_equal(preprocess(m1), preprocess(m2))
    # Bone is white: lungs (dark) are a minority, the chest's centre column is brighter
    # than the top-left corner (air outside the body) in the displayed picture.
    assert d2[:, 480:540].mean() > d2[:100, :100].mean()


def test_shared_dicom_info_fields():
    im = load_image(shared_data("dicom", "chest_cr_monochrome2.dcm"))
    assert im.dicom is not None
    assert im.dicom.modality == "CR"
    assert im.dicom.view_position == "PA"
    assert "JPEG" in im.dicom.transfer_syntax
    assert im.dicom.number_of_frames == 1
    assert im.bit_depth == 8


# --------------------------------------------------------------------------- DICOM (synthetic)

def test_dicom_16bit_rescale_and_window(tmp_path):
    stored = gradient(32, 48, dtype=np.uint16, lo=0, hi=4000)
    path = write_dicom(tmp_path / "ct.dcm", stored, bits_stored=12, slope=2.0, intercept=-1000.0,
                       center=1000, width=2000)
    im = load_image(path)
    assert im.source_format == "DICOM"
    assert im.bit_depth == 12
    assert im.window_center == 1000.0
    assert im.window_width == 2000.0
    values = stored.astype(np.float64) * 2.0 - 1000.0
    np.testing.assert_allclose(im.pixels, values)
    shown = im.display()
    low, high = window_lut_bounds(1000, 2000)
    assert (shown[values <= low] == 0).all()
    assert (shown[values >= high] == 255).all()
    mid = np.abs(values - 1000) < 20
    assert mid.any()
    assert np.abs(shown[mid].astype(int) - 128).max() <= 4
    # Display follows another window: a narrow one saturates more pixels.
    narrow = im.display(center=1000, width=200)
    assert (narrow == 255).sum() > (shown == 255).sum()
    assert (narrow == 0).sum() > (shown == 0).sum()


def test_dicom_16bit_without_window_spans_data(tmp_path):
    stored = gradient(32, 48, dtype=np.uint16, lo=300, hi=3800)
    im = load_image(write_dicom(tmp_path / "nowin.dcm", stored, bits_stored=12))
    assert im.pixels.dtype == np.uint16
    assert np.array_equal(im.pixels, stored)
    _window_spans(im, 300, 3800)
    shown = im.display()
    assert shown[stored == 300].max() == 0
    assert shown[stored == 3800].min() == 255


def test_dicom_monochrome1_16bit_is_inverted(tmp_path):
    stored = gradient(32, 48, dtype=np.uint16, lo=0, hi=4095)
    m1 = load_image(write_dicom(tmp_path / "m1.dcm", stored, bits_stored=12, photometric="MONOCHROME1"))
    m2 = load_image(write_dicom(tmp_path / "m2.dcm", (4095 - stored).astype(np.uint16), bits_stored=12))
    assert m1.invert and m1.dicom.photometric_interpretation == "MONOCHROME1"
    shown = m1.display()
    # MONOCHROME1: the lowest stored value is white.
    assert shown[stored == 0].min() == 255
    assert shown[stored == 4095].max() == 0
    assert np.abs(shown.astype(int) - m2.display().astype(int)).max() <= 1
    assert np.abs(preprocess(m1) - preprocess(m2)).max() <= 1.5 / 255


def test_extensionless_dicom_detected_by_content(tmp_path):
    stored = gradient(16, 16)
    folder = tmp_path / "export"
    folder.mkdir()
    path = write_dicom(folder / "IM000001", stored)
    (folder / "README").write_text("not an image")
    im = load_image(path)
    assert im.source_format == "DICOM"
    assert np.array_equal(im.pixels, stored)
    assert find_images([folder]) == [str(path)]


def test_multiframe_takes_first_frame(tmp_path):
    frames = np.stack([np.full((8, 12), v, np.uint8) for v in (40, 120, 220)])
    frames[0, 0, 0] = 0  # make frame 0 recognisable
    im = load_image(write_dicom(tmp_path / "mf.dcm", frames, frames=3))
    assert im.pixels.shape == (8, 12)
    assert np.array_equal(im.pixels, frames[0])
    assert im.dicom.number_of_frames == 3


def test_dicom_info_fields_synthetic(tmp_path):
    im = load_image(write_dicom(tmp_path / "i.dcm", gradient(8, 8), modality="DX", view="AP"))
    assert im.dicom.modality == "DX"
    assert im.dicom.view_position == "AP"
    assert im.dicom.photometric_interpretation == "MONOCHROME2"
    assert im.dicom.body_part == "CHEST"
    assert im.dicom.transfer_syntax == "Explicit VR Little Endian"
    assert im.dicom.patient_id == "T-0001"
    assert im.file_size == (tmp_path / "i.dcm").stat().st_size


def test_dicom_8bit_shown_as_stored(tmp_path):
    stored = gradient(16, 24, lo=20, hi=200)
    im = load_image(write_dicom(tmp_path / "8.dcm", stored))
    assert np.array_equal(im.display(), stored)


def test_dicom_signed_pixels_keep_their_sign(tmp_path):
    stored = gradient(16, 24, dtype=np.int16, lo=-1000, hi=3000)
    im = load_image(write_dicom(tmp_path / "s.dcm", stored, signed=True))
    np.testing.assert_allclose(im.pixels, stored)
    _window_spans(im, -1000, 3000)
    shown = im.display()
    assert shown[stored == -1000].max() == 0
    assert shown[stored == 3000].min() == 255


def test_rgb_dicom_shows_luminance(tmp_path):
    import pydicom

    grey = gradient(8, 12)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    path = write_dicom(tmp_path / "rgb.dcm", grey, photometric="RGB")
    ds = pydicom.dcmread(path)
    ds.SamplesPerPixel = 3
    ds.PlanarConfiguration = 0
    ds.PixelData = rgb.tobytes()
    ds.save_as(path)
    im = load_image(path)
    assert im.pixels.shape == (8, 12)
    assert np.abs(im.display().astype(int) - grey).max() <= 1
    assert im.colourfulness < 1.0  # grey stored as RGB is still a radiograph


def test_colour_dicom_keeps_its_colourfulness(tmp_path):
    # A colour photograph wrapped in DICOM (secondary capture) must trip the same colour rule
    # as a colour JPEG, although the viewer shows its luminance.
    import pydicom

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    path = write_dicom(tmp_path / "photo.dcm", rgb[..., 0], photometric="RGB")
    ds = pydicom.dcmread(path)
    ds.SamplesPerPixel = 3
    ds.PlanarConfiguration = 0
    ds.PixelData = rgb.tobytes()
    ds.save_as(path)
    jpeg = tmp_path / "photo.png"
    Image.fromarray(rgb).save(jpeg)
    from_dicom, from_png = load_image(path).colourfulness, load_image(jpeg).colourfulness
    assert from_dicom > 30.0
    assert abs(from_dicom - from_png) < 0.2 * from_png


def test_dicom_jpeg2000_lossless_decodes(tmp_path):
    import io

    from PIL import features

    if not features.check("jpg_2000"):
        pytest.skip("Pillow built without OpenJPEG")
    ref = gradient(16, 24)
    buf = io.BytesIO()
    Image.fromarray(ref).save(buf, format="JPEG2000", irreversible=False, no_jp2=True)
    path = write_dicom(tmp_path / "j2k.dcm", ref, transfer_syntax="1.2.840.10008.1.2.4.90",
                       pixel_data=buf.getvalue(), encapsulated=True)
    im = load_image(path)
    assert np.array_equal(im.pixels, ref)
    assert "JPEG 2000" in im.dicom.transfer_syntax
