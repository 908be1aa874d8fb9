"""Damaged JPEG data that still decodes: libjpeg's own warnings, per file.

libjpeg recovers from many kinds of damage (a bit flipped in the entropy-coded
data, a stream cut short and closed with an end marker, stray bytes before a
marker) and reports them only as warnings ("Corrupt JPEG data: ...",
"Premature end of JPEG file"), which Pillow swallows. One flipped bit can turn
a NORMAL film into PNEUMONIA, so the scan asks libjpeg-turbo again through
``simplejpeg`` (its TurboJPEG API reports warnings per call, thread-safely,
with nothing written to standard error) and the record is warned about.

The check decodes at 1/8 scale: the entropy-coded data is read in full (that
is where the damage is found) but most of the inverse DCT is skipped. It costs
about half of Pillow's decode of the same film (``bench/bench_hostile.py``:
6-15 ms against 14-31 ms for 2800 x 2000, 0.3 ms for a 256 px test film); on
noise-like data, where entropy decoding dominates, as much as a full decode.
"""

from __future__ import annotations

DAMAGED = "damaged image data: result unreliable"
"""The record warning, followed by libjpeg's own words in parentheses."""


def jpeg_damage(data: bytes) -> str | None:
    """libjpeg-turbo's warning about the JPEG ``data`` (``None`` when it is clean).

    A stream libjpeg-turbo cannot decode at all, although Pillow did, counts
    as damaged too (its error is returned).
    """
    import simplejpeg  # loaded on the first JPEG

    try:
        _height, _width, colourspace, _sub = simplejpeg.decode_jpeg_header(data)
    except ValueError as exc:
        return str(exc) or "unreadable JPEG header"
    target = "CMYK" if str(colourspace).upper() in ("CMYK", "YCCK") else "GRAY"
    try:
        simplejpeg.decode_jpeg(data, colorspace=target, min_factor=8, strict=True)
    except ValueError as exc:
        return str(exc) or "corrupt JPEG data"
    return None


def damage_warning(detail: str) -> str:
    """The record warning for libjpeg's ``detail``."""
    return f"{DAMAGED} ({' '.join(detail.split())})"
