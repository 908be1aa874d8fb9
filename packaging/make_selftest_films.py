"""Write the compressed self-test films into ``pneumo/selftest/data/``.

Run once, by a developer, when a film is added (the files are committed):
``python packaging/make_selftest_films.py [FILE ...]`` (only the named files, or
all). Needs the encoders: pydicom (RLE), pyjpegls (JPEG-LS), pylibjpeg-openjpeg
(JPEG 2000), python-gdcm (JPEG baseline and lossless, which pydicom cannot
encode) and imagecodecs (HTJ2K, with OpenJPH).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pydicom

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pneumo.selftest.films import FILMS, Film, base_dataset, reference_pixels

OUT = ROOT / "pneumo" / "selftest" / "data"
#: pydicom encoder options per transfer syntax (lossy ones stay close to lossless).
_PYDICOM_OPTIONS: dict[str, dict[str, object]] = {
    "1.2.840.10008.1.2.5": {},
    "1.2.840.10008.1.2.4.80": {},
    "1.2.840.10008.1.2.4.81": {"jls_error": 2},
    "1.2.840.10008.1.2.4.90": {},
    "1.2.840.10008.1.2.4.91": {"j2k_cr": [20]},
}
_GDCM_SYNTAX = {
    "1.2.840.10008.1.2.4.50": "JPEGBaselineProcess1",
    "1.2.840.10008.1.2.4.57": "JPEGLosslessProcess14",
    "1.2.840.10008.1.2.4.70": "JPEGLosslessProcess14_1",
}


def _with_gdcm(film: Film, out: Path) -> None:
    import gdcm

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.dcm"
        base_dataset(film.bits).save_as(source, enforce_file_format=True)
        reader = gdcm.ImageReader()
        reader.SetFileName(str(source))
        if not reader.Read():
            raise RuntimeError(f"gdcm cannot read {source}")
        change = gdcm.ImageChangeTransferSyntax()
        syntax = getattr(gdcm.TransferSyntax, _GDCM_SYNTAX[film.transfer_syntax])
        change.SetTransferSyntax(gdcm.TransferSyntax(syntax))
        change.SetInput(reader.GetImage())
        if not change.Change():
            raise RuntimeError(f"gdcm cannot encode {film.name}")
        writer = gdcm.ImageWriter()
        writer.SetFileName(str(out))
        writer.SetFile(reader.GetFile())
        writer.SetImage(change.GetOutput())
        if not writer.Write():
            raise RuntimeError(f"gdcm cannot write {out}")


def _with_imagecodecs(film: Film, out: Path) -> None:
    """HTJ2K lossless: OpenJPH's reversible codestream, encapsulated by pydicom."""
    import imagecodecs
    from pydicom.encaps import encapsulate

    ds = base_dataset(film.bits)
    ds.PixelData = encapsulate([bytes(imagecodecs.htj2k_encode(reference_pixels(film.bits),
                                                               reversible=True))])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = film.transfer_syntax
    ds.save_as(out, enforce_file_format=True)


_HTJ2K_LOSSLESS = "1.2.840.10008.1.2.4.201"


def _with_pydicom(film: Film, out: Path) -> None:
    ds = base_dataset(film.bits)
    ds.compress(film.transfer_syntax, **_PYDICOM_OPTIONS[film.transfer_syntax])
    ds.save_as(out, enforce_file_format=True)


def main(argv: list[str] | None = None) -> int:
    only = set(sys.argv[1:] if argv is None else argv)
    OUT.mkdir(parents=True, exist_ok=True)
    for film in FILMS:
        if film.file is None or (only and film.file not in only):
            continue
        out = OUT / film.file
        if film.transfer_syntax in _GDCM_SYNTAX:
            _with_gdcm(film, out)
        elif film.transfer_syntax == _HTJ2K_LOSSLESS:
            _with_imagecodecs(film, out)
        else:
            _with_pydicom(film, out)
        ds = pydicom.dcmread(out)
        if ds.file_meta.TransferSyntaxUID != film.transfer_syntax:
            raise RuntimeError(f"{out}: written as {ds.file_meta.TransferSyntaxUID}")
        error = np.abs(ds.pixel_array.astype(int) - reference_pixels(film.bits)).max()
        print(f"{out.relative_to(ROOT)}: {out.stat().st_size} bytes, {film.name}, "
              f"max error {error}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
