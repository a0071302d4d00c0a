"""Pillow pictures and numpy arrays sharing one block of memory.

A Pillow image made with ``Image.frombuffer`` over a C-ordered uint8 array maps the array
instead of copying it, so writing into that image writes into the array. Two uses: copying a
decoded "L" picture into numpy in one memcpy per row (``grey_array``), and lending the array
to the decoder so that no copy is needed at all (``decode_grey_into``).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from PIL import Image


def _mapped_view(out: np.ndarray) -> Optional[Image.Image]:
    """A writable "L" image over ``out``'s memory, or None when Pillow copied the buffer
    instead of mapping it (then writing into the image would not reach ``out``)."""
    view = Image.frombuffer("L", (out.shape[1], out.shape[0]), out, "raw", "L", 0, 1)
    if not view.readonly:
        return None
    view.readonly = False  # write through the mapping (frombuffer marks it read-only)
    return view


def grey_array(img: Image.Image) -> np.ndarray:
    """A uint8 copy of an "L" picture as a numpy array.

    ``np.asarray(img)`` goes through Pillow's chunked ``tobytes`` (an encoder pass, a join and
    numpy's copy): 5-6 ms for a 2,000 px film, half as long as decoding it. Pasting into a
    Pillow image that maps a numpy buffer is one memcpy per row (0.1 ms), the same bytes.
    """
    out = np.empty((img.height, img.width), dtype=np.uint8)
    view = _mapped_view(out)
    if view is None:  # Pillow copied instead of mapping the buffer: take the slow road
        return np.asarray(img, dtype=np.uint8).copy()
    view.paste(img)
    # The mapping is Pillow's behaviour, not its promise: if a later Pillow copies on paste,
    # ``out`` holds whatever np.empty gave. One row compared costs microseconds and keeps the
    # model input right whatever the Pillow.
    row = img.height // 2
    if out[row].tobytes() != img.crop((0, row, img.width, row + 1)).tobytes():
        return np.asarray(img, dtype=np.uint8).copy()
    return out


def decode_grey_into(img: Image.Image, out: np.ndarray) -> bool:
    """Decode an opened, not yet loaded "L" picture straight into ``out`` (uint8, C-ordered,
    shaped as the picture); True when the pixels landed there.

    Pillow would decode into memory of its own, which then has to be copied into numpy (a
    second 3.6 MB buffer and its page faults for a 2,000 px film, ~2.5 ms). A Pillow image that
    maps ``out`` lends its memory to the decoder instead. If a Pillow keeps its own memory
    anyway, or the picture was already decoded, False tells the caller to copy it out of
    Pillow's memory (it is decoded either way).
    """
    if not img.tile:  # already decoded (a plugin that reads metadata by decoding): keep it
        return False
    view = _mapped_view(out)
    if view is None:  # nothing to lend
        img.load()
        return False
    img.im = view.im
    img.load()
    return img.im is view.im
