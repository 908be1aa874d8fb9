"""A quick first picture of a film that is slow to decode, for the viewer.

Classic JPEG 2000 films of 2,048 px and more take 400-600 ms to decode; their
wavelet also holds them at a quarter of the size, which decodes in a tenth of
that (:mod:`pneumo.films.j2k_reduced`). :func:`load_preview` gives that picture,
through the same value mapping (modality and VOI LUT, MONOCHROME1) as
:func:`~pneumo.films.imaging.load_image`, so that it looks like the film; the
viewer replaces it with the full decode, and nothing else ever uses it.
"""

from __future__ import annotations

from pathlib import Path

from pneumo.films.imaging import MAX_PIXELS, ImageMetadata, LoadedImage
from pneumo.films.library_warnings import decoding
from pneumo.films.sniff import SNIFF_BYTES, sniff_dicom

#: A preview's long side is at least this many pixels (a 3,000 px film gives 750).
PREVIEW_SIDE = 512


def load_preview(path: str | Path, min_side: int = PREVIEW_SIDE) -> LoadedImage | None:
    """``path`` at a reduced resolution (long side at least ``min_side``) when that
    is much quicker than decoding it whole, else None.

    Only grey classic JPEG 2000 DICOM films qualify, 4 x ``min_side`` and larger.
    The pixels are smaller than the film; ``metadata.width`` and ``height`` are
    the film's own. Never raises for a bad file (None): the full decode, which
    follows, names the problem.
    """
    from pneumo.films.dicom import read_dicom
    from pneumo.films.j2k_reduced import NoReducedDecode

    path = Path(path)
    try:
        with decoding(path):
            with open(path, "rb") as fh:
                if sniff_dicom(fh.read(SNIFF_BYTES)) is None:
                    return None
            decoded = read_dicom(path, MAX_PIXELS, reduced_side=min_side)
    except NoReducedDecode:
        return None
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException:  # noqa: BLE001 - the full decode reports what is wrong
        return None
    if decoded.pixels.ndim != 2:
        return None
    rows, columns = decoded.film_size
    meta = ImageMetadata(format="DICOM", width=columns, height=rows, **decoded.fields)
    return LoadedImage(path=path, pixels=decoded.pixels, metadata=meta,
                       warnings=decoded.warnings)
