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
