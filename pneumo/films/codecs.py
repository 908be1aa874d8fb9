"""Which decoder pydicom uses for each compressed transfer syntax.

Chosen by measurement (``python bench/bench_decoders.py``: one 3000 x 2127
film, 12-bit stored, per syntax and plugin; figures in the README), fastest
first; pydicom tries them in this order and falls back to the next one when a
plugin refuses a frame:

========================= ============================================================
RLE Lossless              pylibjpeg-rle, then pydicom's own numpy decoder
JPEG Baseline             imagecodecs, Pillow (both libjpeg-turbo), pylibjpeg-libjpeg
JPEG Extended (12-bit)    imagecodecs (libjpeg-turbo 3), pylibjpeg-libjpeg, Pillow
JPEG Lossless (SV1 too)   imagecodecs (libjpeg-turbo 3), pylibjpeg-libjpeg
JPEG-LS                   imagecodecs (CharLS), pyjpegls (CharLS), pylibjpeg-libjpeg
JPEG 2000                 pylibjpeg-openjpeg, imagecodecs, Pillow (all OpenJPEG, within 10 %)
HTJ2K                     imagecodecs (OpenJPH), pylibjpeg-openjpeg (half as fast)
========================= ============================================================

GDCM is never used for decoding: it was slower for every syntax and it aborts
the whole process (C++ ``terminate``) on some malformed headers. Decoding runs
in worker processes anyway (:mod:`pneumo.scanning.pool`), so a crash in any
native decoder costs one file, not the scan.

:func:`configure_pydicom` applies the table; it is idempotent and cheap.
"""

from __future__ import annotations

import threading

from pydicom import uid

#: Plugin labels and their pydicom import paths.
_PLUGINS: dict[str, tuple[str, str]] = {
    "pydicom": ("pydicom.pixels.decoders.rle", "_decode_frame"),
    "pylibjpeg": ("pneumo.films.pylibjpeg_plugin", "decode_frame"),
    "pillow": ("pydicom.pixels.decoders.pillow", "_decode_frame"),
    "pyjpegls": ("pydicom.pixels.decoders.pyjpegls", "_decode_frame"),
    "imagecodecs": ("pneumo.films.imagecodecs_plugin", "decode_frame"),
}

_JPEG_LOSSLESS = ("imagecodecs", "pylibjpeg")
_JPEG_LS = ("imagecodecs", "pyjpegls", "pylibjpeg")
_J2K = ("pylibjpeg", "imagecodecs", "pillow")
_HTJ2K = ("imagecodecs", "pylibjpeg")

#: Transfer syntax -> decoding plugins, preferred first.
DECODER_ORDER: dict[uid.UID, tuple[str, ...]] = {
    uid.RLELossless: ("pylibjpeg", "pydicom"),
    uid.JPEGBaseline8Bit: ("imagecodecs", "pillow", "pylibjpeg"),
    uid.JPEGExtended12Bit: ("imagecodecs", "pylibjpeg", "pillow"),
    uid.JPEGLossless: _JPEG_LOSSLESS,
    uid.JPEGLosslessSV1: _JPEG_LOSSLESS,
    uid.JPEGLSLossless: _JPEG_LS,
    uid.JPEGLSNearLossless: _JPEG_LS,
    uid.JPEG2000Lossless: _J2K,
    uid.JPEG2000: _J2K,
    uid.HTJ2KLossless: _HTJ2K,
    uid.HTJ2KLosslessRPCL: _HTJ2K,
    uid.HTJ2K: _HTJ2K,
}

_lock = threading.Lock()
_configured = False


def configure_pydicom() -> None:
    """Make pydicom's decoders use the plugins of :data:`DECODER_ORDER`, in order."""
    global _configured
    with _lock:
        if _configured:
            return
        from pydicom.pixels.decoders.base import get_decoder

        for syntax, labels in DECODER_ORDER.items():
            decoder = get_decoder(syntax)
            for label in (*decoder.available_plugins, *_unavailable(decoder)):
                decoder.remove_plugin(label)
            for label in labels:
                try:
                    decoder.add_plugin(label, _PLUGINS[label])
                except (ImportError, ValueError, AttributeError):  # plugin not installed
                    continue
        _configured = True


def plugin_order(syntax: str) -> tuple[str, ...]:
    """The plugins pydicom will try for ``syntax``, in order, that are installed."""
    from pydicom.pixels.decoders.base import get_decoder

    configure_pydicom()
    decoder = get_decoder(uid.UID(syntax))
    available = set(decoder.available_plugins)
    return tuple(label for label in DECODER_ORDER.get(uid.UID(syntax), ()) if label in available)


def _unavailable(decoder: object) -> tuple[str, ...]:
    return tuple(getattr(decoder, "_unavailable", {}).keys())
