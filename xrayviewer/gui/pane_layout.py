"""How the window shares its width between the worklist, the film and the opinion panel.

The film is what a reader reads, so it gets at least half of the window at any size. On a
laptop (1366 x 768) or a small window (1024 x 700) the side panes give way first: the
worklist drops its thumbnail column and narrows, the opinion panel narrows; either
can be hidden outright (View menu, F9 and F10) and the film takes the room. Pure arithmetic
here, so the rule is tested without a window.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Below this window width the worklist shows only name, probability, verdict and read. At
#: 1366 px (the common laptop) the thumbnails left ~90 px for names ("person…5.jpeg", when a
#: status column also stood there); without them names are whole and more rows fit.
COMPACT_BELOW = 1440
#: The film's least share of the window's width.
IMAGE_SHARE = 0.5
#: The opinion panel's narrowest and preferred widths (">99%" in the large font and the
#: margins need about 190 px; the title wraps).
SIDE_MIN, SIDE_WANT = 200, 310


@dataclass(frozen=True)
class PaneWidths:
    worklist: int
    image: int
    side: int


def share(total: int, worklist_min: int, worklist_want: int, side_min: int = SIDE_MIN, side_want: int = SIDE_WANT,
          worklist_shown: bool = True, side_shown: bool = True, handles: int = 0,
          worklist_full: int = 0) -> PaneWidths:
    """Widths for a window ``total`` px wide (``handles``: the splitter handles' width).

    The film gets at least IMAGE_SHARE of ``total``. What remains goes to the shown side
    panes: each gets its wanted width when there is room, else the room is split in
    proportion to their minimums, never below them (a window too small even for that still
    shows the film's half; the panes are clipped by the splitter rather than the film).
    ``worklist_full``: the worklist's width with all its columns; when the room allows it
    beside the panel's minimum, it is the worklist's minimum (thumbnails before panel width).
    """
    room = max(0, total - handles - int(round(total * IMAGE_SHARE)))
    if worklist_shown and worklist_full and worklist_full + (side_min if side_shown else 0) <= room:
        worklist_min = max(worklist_min, worklist_full)
    want_l = worklist_want if worklist_shown else 0
    want_r = side_want if side_shown else 0
    if want_l + want_r <= room:
        left, right = want_l, want_r
    else:
        min_l = worklist_min if worklist_shown else 0
        min_r = side_min if side_shown else 0
        if min_l + min_r >= room:
            left, right = min_l, min_r
        else:
            spare = room - min_l - min_r  # shared in proportion to how much more each wants
            extra_l, extra_r = want_l - min_l, want_r - min_r
            give_l = spare * extra_l // max(1, extra_l + extra_r)
            left, right = min_l + give_l, min_r + (spare - give_l)
    return PaneWidths(left, max(0, total - handles - left - right), right)
