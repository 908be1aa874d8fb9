"""pydicom's pylibjpeg decoding plugin, with a decoder panic turned into an error.

pylibjpeg-rle is written in Rust; on some damaged RLE frames it panics, and
the panic reaches Python as ``PanicException``, which derives from
``BaseException``: it gets past pydicom's fallback to the next plugin and past
every ``except Exception``. :func:`decode_frame` makes it a ``RuntimeError``,
so pydicom goes on to its own RLE decoder. Registered by
:func:`pneumo.films.codecs.configure_pydicom` under the label "pylibjpeg".
"""

from __future__ import annotations

from typing import Any

from pydicom.pixels.decoders.pylibjpeg import DECODER_DEPENDENCIES, is_available

__all__ = ["DECODER_DEPENDENCIES", "decode_frame", "is_available"]


def decode_frame(src: bytes, runner: Any) -> Any:
    """pydicom's pylibjpeg plugin; a panic becomes ``RuntimeError``."""
    from pydicom.pixels.decoders.pylibjpeg import _decode_frame

    try:
        return _decode_frame(src, runner)
    except Exception:
        raise
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - pyo3's PanicException
        raise RuntimeError(f"decoder panicked ({type(exc).__name__}: {exc})") from None
