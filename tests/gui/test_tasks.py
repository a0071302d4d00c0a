"""The window's decode task: one typed result per file, in order, errors as words."""

import numpy as np
from PIL import Image

from xrayviewer.gui.tasks import DecodedFile, decode_images


def test_decode_images_reports_one_typed_result_per_file_and_keeps_going(tmp_path):
    good = tmp_path / "a.png"
    Image.fromarray(np.tile(np.arange(256, dtype=np.uint8), (256, 1))).save(good)
    bad = tmp_path / "b.jpeg"
    bad.write_bytes(b"not a picture")
    second = tmp_path / "c.png"
    Image.fromarray(np.tile(np.arange(256, dtype=np.uint8)[::-1], (300, 1))).save(second)

    seen: list = []
    read = decode_images([(1, str(good)), (2, str(bad)), (3, str(second))], on_progress=seen.append)

    assert read == 2
    assert all(isinstance(d, DecodedFile) for d in seen)
    assert [(d.key, d.done, d.total) for d in seen] == [(1, 1, 3), (2, 2, 3), (3, 3, 3)]
    first, broken, last = seen
    assert first.model_input.shape == (128, 128) and first.model_input.dtype == np.uint8
    assert first.thumbnail is not None and first.image is not None  # the viewer shows it without a re-read
    assert broken.error and "b.jpeg" in broken.error and broken.model_input is None
    assert last.model_input is not None and last.image is None  # only the first travels whole


def test_the_loaders_hand_over_the_film_in_the_screens_form_made_on_their_thread(tmp_path, qapp):
    """Converting a 2,000 px film for the screen took the GUI thread 5-8 ms each time one was
    shown; the loaders now make that form (for the film they hand over whole) on their own
    thread, and it holds the same picture the view would have made."""
    import threading

    from xrayviewer.gui.screen_image import SCREEN_FORMAT, screen_qimage
    from xrayviewer.gui.tasks import FullImage, load_full

    first, second = tmp_path / "a.png", tmp_path / "c.png"
    grey = (np.arange(300 * 257, dtype=np.uint32).reshape(300, 257) % 251).astype(np.uint8)
    Image.fromarray(grey).save(first)
    Image.fromarray(grey[::-1]).save(second)
    threads = []

    def maker(image):
        threads.append(threading.get_ident())
        return screen_qimage(image)

    seen: list = []
    decode_images([(1, str(first)), (2, str(second))], on_progress=seen.append, screen=maker)
    assert seen[1].screen is None  # only the film handed over whole
    shown = seen[0].screen
    assert shown.format() == SCREEN_FORMAT and (shown.width(), shown.height()) == (257, 300)
    rgb = qimage_to_rgb(shown)
    assert np.array_equal(rgb[..., 0], grey) and np.array_equal(rgb[..., 2], grey)

    full = load_full(str(second), screen=maker)
    assert isinstance(full, FullImage) and np.array_equal(qimage_to_rgb(full.screen)[..., 1], grey[::-1])
    assert load_full(str(second)).screen is None  # no maker, no screen form (the CLI's and tests' way)
    assert threads == [threading.get_ident()] * 2  # made where the loading ran

    def broken(image):
        raise MemoryError

    seen.clear()  # a failing maker costs the film nothing: it is read, and the view converts it
    assert decode_images([(1, str(first))], on_progress=seen.append, screen=broken) == 1
    assert seen[0].image is not None and seen[0].screen is None and not seen[0].error
    assert load_full(str(first), screen=broken).screen is None


def qimage_to_rgb(image):
    from xrayviewer.gui.qimage import qimage_to_array

    return qimage_to_array(image)[..., :3]
