"""A large grey JPEG decoded on two cores, bit for bit what one decode gives.

Decoding dominates reading a full-resolution film: 11-14 ms of one core for a 1,982 x 1,804
film, while the second core of the reference machine waits. libjpeg decodes a scan from its
first byte to its last, but a JPEG written with restart markers (many scanners and PACS
exports write one every MCU row) resets its decoder state at each marker: the DC predictions
start again from zero and the bit stream realigns to a byte. So the data after a marker can be
decoded without anything before it. Cut at a marker that ends a whole row of 8 x 8 blocks, each
half, under a copy of the file's headers whose frame height is the half's, is a JPEG of its
own, and libjpeg decodes it to exactly the rows the whole file would give there (every block's
pixels depend only on its own coefficients when there is one component, so no upsampling
reaches across the cut). Pillow releases the GIL while it decodes, so the two halves run on two
cores into the two halves of one array.

Only files this holds for are cut: baseline or extended sequential Huffman JPEG, 8-bit, one
component, one scan, restart markers in order at whole-row boundaries, no damage (the walk of
``jpeg_check`` has checked the markers; it also hands over their offsets). Anything else, and
any failure on the way, returns None and the caller decodes the file the usual way.
"""

from __future__ import annotations

import io
import struct
from typing import Optional

import numpy as np
from PIL import Image

from .jpeg_check import ScanLayout
from .pillow_arrays import decode_grey_into, grey_array
from .two_cores import side_by_side, spare_core

#: Below this many pixels a second thread (start, a second header parse) costs more than it
#: saves: a 224 px training image decodes in 0.3 ms. A 1,000 x 1,000 film takes ~3.5 ms.
MIN_PIXELS = 1_000_000

#: Restart markers count 0..7 and start again at 0 in each file: a cut after a multiple of
#: eight intervals leaves the second file's markers in the order a decoder expects.
_RST_CYCLE = 8

_BASELINE_FRAMES = (0xC0, 0xC1)  # sequential Huffman; progressive or arithmetic files are not cut


def halves(data: bytes, layout: ScanLayout) -> Optional[tuple[int, bytes, bytes]]:
    """The file cut at a restart marker near its middle into two JPEGs of whole block rows:
    (the second's first row, the top JPEG, the bottom JPEG), or None when it cannot be cut
    exactly."""
    if layout.scans != 1 or layout.frame_marker not in _BASELINE_FRAMES or layout.restart_interval <= 0:
        return None
    try:
        precision, height, width, components = struct.unpack(
            ">BHHB", data[layout.frame_offset + 4: layout.frame_offset + 10])
        sampling = data[layout.frame_offset + 11]
    except (struct.error, IndexError):
        return None
    if precision != 8 or components != 1 or sampling != 0x11 or height == 0 or width == 0:
        return None
    blocks_per_row = -(-width // 8)
    blocks = blocks_per_row * -(-height // 8)
    interval = layout.restart_interval
    offsets = layout.restart_offsets
    if len(offsets) != -(-blocks // interval) - 1:
        return None  # not the markers this frame implies (a DNL height, a scan cut short)
    # Intervals after which a cut may fall: a whole number of block rows, markers in phase.
    cuts = [k for k in range(_RST_CYCLE, len(offsets) + 1, _RST_CYCLE) if (k * interval) % blocks_per_row == 0]
    if not cuts:
        return None
    # Cut by compressed bytes: the entropy decode, most of the work, follows them.
    middle = (layout.scan_start + len(data)) / 2
    k = min(cuts, key=lambda c: abs(offsets[c - 1] - middle))
    cut_row = k * interval // blocks_per_row * 8
    if not 0 < cut_row < height:
        return None
    header = data[:layout.scan_start]
    marker = offsets[k - 1]
    top = _with_height(header, layout.frame_offset, cut_row) + data[layout.scan_start:marker] + b"\xff\xd9"
    bottom = _with_height(header, layout.frame_offset, height - cut_row) + data[marker + 2:]  # keeps the end marker
    return cut_row, top, bottom


def _with_height(header: bytes, frame_offset: int, rows: int) -> bytes:
    """The file's headers with the frame's height set to ``rows``."""
    at = frame_offset + 5
    return header[:at] + struct.pack(">H", rows) + header[at + 2:]


def decode_in_halves(data: bytes, layout: ScanLayout, width: int, height: int) -> Optional[np.ndarray]:
    """The film's pixels (height, width) uint8, its two halves decoded side by side, or None
    (the file cannot be cut, one core only, or a band failed) for the caller's own decode."""
    if width * height < MIN_PIXELS or not spare_core():
        return None
    cut = halves(data, layout)
    if cut is None:
        return None
    row, top, bottom = cut
    out = np.empty((height, width), dtype=np.uint8)
    try:
        ok = side_by_side(lambda: _decode_band(top, out[:row]), lambda: _decode_band(bottom, out[row:]))
    except Exception:  # noqa: BLE001 - any failure sends the file down the ordinary path
        return None
    return out if all(ok) else None


def _decode_band(band: bytes, out: np.ndarray) -> bool:
    with Image.open(io.BytesIO(band)) as img:
        if img.format != "JPEG" or img.mode != "L" or img.size != (out.shape[1], out.shape[0]):
            return False
        if not decode_grey_into(img, out):
            out[...] = grey_array(img)
        return True
