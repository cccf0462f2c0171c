"""How a table or a figure names the FID feature extractor, and whether the papers' FIDs compare with ours.

The papers' FIDs use Inception features; offline runs use a classifier trained on the data
(`core.evaluation.feature_classifier`), whose FIDs are on another scale: a table must not set them beside the paper's.
"""

from __future__ import annotations

import re

EXTRACTOR_FAMILIES: dict[str, tuple[str, bool]] = {
    "inception": ("Inception", True), "classifier": ("classifier features", False),
}


def describe_extractor(name: str) -> tuple[str, bool]:
    """(row-label text, whether the paper's FIDs are comparable) for a `fid_extractor` name."""
    family = re.split(r"[-:]", name, maxsplit=1)[0]
    return EXTRACTOR_FAMILIES.get(family, (name, False))
