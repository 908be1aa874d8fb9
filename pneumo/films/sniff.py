"""Cheap content checks that need no DICOM library (pydicom loads lazily).

:func:`sniff_dicom` is the one place that decides whether bytes are DICOM;
the loader and the folder scanner both use it.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Literal

_FIRST_GROUPS = (0x0002, 0x0008)
_VRS = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI "
    b"UL UN UR US UT UV".split()
)
SNIFF_BYTES = 256
"""How many leading bytes :func:`is_dicom_file` reads."""


def sniff_dicom(data: bytes) -> Literal["preamble", "bare"] | None:
    """Say whether ``data`` (the file's first bytes or all of it) is DICOM.

    ``"preamble"``: the ``DICM`` magic at offset 128. ``"bare"``: no preamble,
    but the file starts with a plausible group 0x0002/0x0008 element, in
    either byte order, explicit or implicit VR. ``None``: not DICOM.
    """
    if data[128:132] == b"DICM":
        return "preamble"
    if len(data) < 8:
        return None
    for order in "<>":
        group, _element = struct.unpack(order + "HH", data[:4])
        if group not in _FIRST_GROUPS:
            continue
        if data[4:6] in _VRS:
            return "bare"
        (length,) = struct.unpack(order + "I", data[4:8])
        if 0 < length <= len(data) - 8:
            return "bare"
    return None


def is_dicom_file(path: Path) -> bool:
    """True when the file's first bytes are DICOM (with or without preamble)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError:
        return False
    return sniff_dicom(head) is not None
