"""Synthetic test files: every format and DICOM variant from one 2-D array.

Each ``write_*`` function takes an 8-bit film (``uint8`` 2-D array, bright =
dense) unless it says otherwise, writes one file and returns its path. The
DICOM variants are built so that a correct loader gives back the film's own
values (``film / 255``) to within rounding, except :func:`write_dicom_plain16`
(no window: the loader scales by min..max) and the lossy JPEG ones.

JPEG-family DICOM is encoded with GDCM (:data:`GDCM_SYNTAXES` lists what
GDCM can write) or, without GDCM, by :func:`encode_dataset`: pydicom's own
encoders for RLE, JPEG-LS (pyjpegls) and JPEG 2000 (pylibjpeg-openjpeg), and
imagecodecs (libjpeg-turbo 3) for JPEG lossless, 12-bit JPEG Extended and JPEG
Baseline. Those encoders are test dependencies (the ``test`` extra).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    UID,
    BasicTextSRStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

PATIENT = {
    "PatientName": "Synthetic^Test^Q",
    "PatientID": "SYN-0042",
    "PatientSex": "F",
    "PatientAge": "047Y",
}
STUDY = {
    "Modality": "DX",
    "BodyPartExamined": "CHEST",
    "ViewPosition": "PA",
    "StudyDate": "20240131",
    "StudyDescription": "CHEST PA",
    "AccessionNumber": "ACC123",
    "InstitutionName": "Synthetic General Hospital",
    "ImagerPixelSpacing": [0.139, 0.143],
}


def film(shape: tuple[int, int] = (320, 256), seed: int = 0) -> np.ndarray:
    """A chest-like 8-bit film spanning exactly 0..255: dark lungs, bright mediastinum."""
    rng = np.random.default_rng(seed)
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 0.55 + 0.25 * (y / h)
    for cx in (0.3 * w, 0.7 * w):
        lung = ((x - cx) / (0.17 * w)) ** 2 + ((y - 0.48 * h) / (0.33 * h)) ** 2 < 1.0
        img[lung] -= 0.35
    img += rng.normal(0.0, 0.04, size=shape).astype(np.float32)
    img = (img - img.min()) / (img.max() - img.min())
    return np.round(img * 255.0).astype(np.uint8)


def write_png(arr: np.ndarray, path: Path) -> Path:
    """8-bit (uint8) or 16-bit (uint16) grayscale PNG, by the array's dtype."""
    Image.fromarray(arr).save(path, format="PNG")
    return path


def write_png16(arr8: np.ndarray, path: Path) -> Path:
    """16-bit PNG of the film, values ``film * 257`` (the full 0..65535 range)."""
    return write_png(arr8.astype(np.uint16) * 257, path)


def write_jpeg(arr8: np.ndarray, path: Path, quality: int = 95) -> Path:
    """Grayscale baseline JPEG."""
    Image.fromarray(arr8).save(path, format="JPEG", quality=quality)
    return path


def write_color_png(arr8: np.ndarray, path: Path, mode: str) -> Path:
    """The gray film as an ``RGB``, ``RGBA`` or palette (``P``) PNG."""
    img = Image.fromarray(arr8).convert(mode)
    if mode == "RGBA":
        img.putalpha(200)
    img.save(path, format="PNG")
    return path


def linear_window(lo: float, hi: float) -> tuple[float, float]:
    """(center, width) of a DICOM LINEAR window mapping ``lo..hi`` onto the output range."""
    return lo + 0.5 + (hi - lo) / 2.0, hi - lo + 1.0


def dicom_dataset(
    stored: np.ndarray,
    bits_stored: int,
    photometric: str = "MONOCHROME2",
    **attributes: object,
) -> Dataset:
    """A DX chest dataset holding ``stored`` (2-D, or 3-D as frames), native encoding."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = DigitalXRayImageStorageForPresentation
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    for keyword, value in {**PATIENT, **STUDY, **attributes}.items():
        setattr(ds, keyword, value)
    ds.set_pixel_data(stored, photometric, bits_stored)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def save(ds: Dataset, path: Path, preamble: bool = True) -> Path:
    """Write ``ds``: a DICOM file (preamble + meta), or without preamble and meta."""
    if preamble:
        ds.save_as(path, enforce_file_format=True)
    else:
        del ds.file_meta
        ds.save_as(path, enforce_file_format=False, implicit_vr=True, little_endian=True)
    return path


def windowed_dataset(arr8: np.ndarray, **attributes: object) -> Dataset:
    """MONOCHROME2, BitsStored 12 (``film * 16``), slope 0.5 / intercept -1024, and a
    window that maps the film's modality values back onto 0..1 exactly."""
    stored = arr8.astype(np.uint16) * 16
    center, width = linear_window(-1024.0, 255 * 8.0 - 1024.0)
    return dicom_dataset(
        stored,
        12,
        "MONOCHROME2",
        RescaleSlope=0.5,
        RescaleIntercept=-1024,
        RescaleType="US",
        WindowCenter=center,
        WindowWidth=width,
        **attributes,
    )


def write_dicom_windowed(arr8: np.ndarray, path: Path) -> Path:
    """12-bit MONOCHROME2 with rescale and window (see :func:`windowed_dataset`)."""
    return save(windowed_dataset(arr8), path)


def write_dicom_mono1(arr8: np.ndarray, path: Path) -> Path:
    """12-bit MONOCHROME1 (stored ``4095 - film * 16``) with a matching window."""
    stored = 4095 - arr8.astype(np.uint16) * 16
    center, width = linear_window(4095.0 - 255 * 16, 4095.0)
    ds = dicom_dataset(stored, 12, "MONOCHROME1", WindowCenter=center, WindowWidth=width)
    return save(ds, path)


def write_dicom_plain16(arr: np.ndarray, path: Path) -> Path:
    """16-bit MONOCHROME2 without rescale or window (``film * 257`` for uint8 input)."""
    stored = arr.astype(np.uint16) * 257 if arr.dtype == np.uint8 else arr.astype(np.uint16)
    return save(dicom_dataset(stored, 16, PixelSpacing=[0.2, 0.2]), path)


def write_dicom_full16(arr16: np.ndarray, path: Path) -> Path:
    """16-bit MONOCHROME2 of a uint16 array, windowed over the whole 0..65535 range."""
    center, width = linear_window(0.0, 65535.0)
    ds = dicom_dataset(arr16.astype(np.uint16), 16, WindowCenter=center, WindowWidth=width)
    return save(ds, path)


def write_dicom_voi_lut(arr8: np.ndarray, path: Path, lut_bits: int = 8) -> Path:
    """12-bit stored ``film * 16`` with a 4096-entry VOI LUT Sequence mapping it back to
    ``film`` (8-bit entries) or ``film * 257`` (16-bit entries)."""
    ds = dicom_dataset(arr8.astype(np.uint16) * 16, 12)
    scale = 1 if lut_bits == 8 else 257
    item = Dataset()
    item.add_new("LUTDescriptor", "US", [4096, 0, lut_bits])
    item.add_new("LUTData", "US", [min(255, v // 16) * scale for v in range(4096)])
    ds.VOILUTSequence = [item]
    return save(ds, path)


def write_dicom_rle(arr8: np.ndarray, path: Path) -> Path:
    """The windowed 12-bit dataset, RLE Lossless (pydicom's own encoder)."""
    ds = windowed_dataset(arr8)
    ds.compress(RLELossless, generate_instance_uid=False)
    return save(ds, path)


def write_dicom_no_preamble(arr8: np.ndarray, path: Path) -> Path:
    """The windowed dataset without preamble, meta header or extension (old ACR-NEMA style)."""
    return save(windowed_dataset(arr8), path, preamble=False)


def write_dicom_multiframe(arr8: np.ndarray, path: Path, frames: int = 3) -> Path:
    """``frames`` frames, 8-bit: the film first, then its negative and blanks."""
    stack = np.zeros((frames, *arr8.shape), dtype=np.uint8)
    stack[0] = arr8
    stack[1:2] = 255 - arr8
    center, width = linear_window(0.0, 255.0)
    return save(dicom_dataset(stack, 8, WindowCenter=center, WindowWidth=width), path)


def write_dicom_no_pixels(path: Path) -> Path:
    """A valid DICOM file (Basic Text SR) with patient data but no Pixel Data."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = BasicTextSRStorage
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = BasicTextSRStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    for keyword, value in PATIENT.items():
        setattr(ds, keyword, value)
    ds.Modality = "SR"
    return save(ds, path)


def write_dicom_rgb(rgb: np.ndarray, path: Path) -> Path:
    """An 8-bit RGB secondary-capture-like DICOM of an (H, W, 3) uint8 array."""
    return save(dicom_dataset(rgb.astype(np.uint8), 8, "RGB"), path)


GDCM_SYNTAXES: dict[UID, str] = {
    JPEGLSLossless: "JPEGLSLossless",
    JPEGLosslessSV1: "JPEGLosslessProcess14_1",
    JPEG2000Lossless: "JPEG2000Lossless",
    JPEGBaseline8Bit: "JPEGBaselineProcess1",
}


def gdcm_transcode(src: Path, dst: Path, syntax: UID) -> Path:
    """Re-encode the DICOM file ``src`` into ``dst`` with GDCM in ``syntax``."""
    import gdcm

    reader = gdcm.ImageReader()
    reader.SetFileName(str(src))
    if not reader.Read():
        raise RuntimeError(f"GDCM cannot read {src}")
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(
        gdcm.TransferSyntax(getattr(gdcm.TransferSyntax, GDCM_SYNTAXES[syntax]))
    )
    change.SetInput(reader.GetImage())
    if not change.Change():
        raise RuntimeError(f"GDCM cannot encode {syntax.name}")
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(dst))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    if not writer.Write():
        raise RuntimeError(f"GDCM cannot write {dst}")
    return dst


def write_dicom_gdcm(arr8: np.ndarray, path: Path, syntax: UID) -> Path:
    """The windowed 12-bit dataset (8-bit for JPEG baseline) compressed by GDCM."""
    if syntax == JPEGBaseline8Bit:
        center, width = linear_window(0.0, 255.0)
        ds = dicom_dataset(arr8, 8, WindowCenter=center, WindowWidth=width)
    else:
        ds = windowed_dataset(arr8)
    plain = save(ds, path.with_name(path.name + ".native.dcm"))
    gdcm_transcode(plain, path, syntax)
    plain.unlink()
    return path


def _gdcm(syntax: UID) -> Callable[[np.ndarray, Path], Path]:
    def write(arr8: np.ndarray, path: Path) -> Path:
        return write_dicom_gdcm(arr8, path, syntax)

    return write


VARIANTS: dict[str, tuple[str, Callable[[np.ndarray, Path], Path]]] = {
    "png8": ("film.png", write_png),
    "png16": ("film16.png", write_png16),
    "jpeg": ("film.jpg", write_jpeg),
    "dicom_windowed": ("film.dcm", write_dicom_windowed),
    "dicom_mono1": ("mono1.dcm", write_dicom_mono1),
    "dicom_voi_lut": ("voilut.dcm", write_dicom_voi_lut),
    "dicom_rle": ("rle.dcm", write_dicom_rle),
    "dicom_no_extension": ("IM000001", write_dicom_windowed),
    "dicom_no_preamble": ("IM000002", write_dicom_no_preamble),
    "dicom_multiframe": ("multi.dcm", write_dicom_multiframe),
    "dicom_jpeg_ls": ("jls.dcm", _gdcm(JPEGLSLossless)),
    "dicom_jpeg_lossless": ("jll.dcm", _gdcm(JPEGLosslessSV1)),
    "dicom_jpeg2000": ("j2k.dcm", _gdcm(JPEG2000Lossless)),
    "dicom_jpeg_baseline": ("jpeg.dcm", _gdcm(JPEGBaseline8Bit)),
}
"""name -> (file name, writer): every variant that must load like the 8-bit PNG."""

LOSSY = frozenset({"jpeg", "dicom_jpeg_baseline"})
"""Variants whose encoding loses information (looser tolerance)."""


#: Syntaxes :func:`encode_dataset` writes, and the encoder used for each.
ENCODERS: dict[UID, str] = {
    RLELossless: "pydicom (pylibjpeg-rle when installed)",
    JPEGLSLossless: "pydicom with pyjpegls",
    JPEG2000Lossless: "pydicom with pylibjpeg-openjpeg",
    JPEGLosslessSV1: "imagecodecs (libjpeg-turbo 3)",
    JPEGExtended12Bit: "imagecodecs (libjpeg-turbo 3), quality 95",
    JPEGBaseline8Bit: "imagecodecs (libjpeg-turbo 3), quality 95",
    HTJ2KLossless: "imagecodecs (OpenJPH), reversible",
}


def encode_dataset(ds: Dataset, syntax: UID) -> Dataset:
    """Compress the native, single-frame, grayscale ``ds`` in place into ``syntax``."""
    if syntax in (RLELossless, JPEGLSLossless, JPEG2000Lossless):
        ds.compress(syntax, generate_instance_uid=False)
        return ds
    import imagecodecs

    arr = ds.pixel_array
    bits = int(ds.BitsStored)
    if syntax == JPEGLosslessSV1:
        frame = imagecodecs.jpeg8_encode(arr, lossless=True, predictor=1, bitspersample=bits)
    elif syntax == JPEGExtended12Bit:
        if bits > 12:
            raise ValueError("JPEG Extended holds at most 12 bits")
        frame = imagecodecs.jpeg8_encode(arr, level=95, bitspersample=12)
        ds.BitsStored, ds.HighBit = 12, 11
    elif syntax == JPEGBaseline8Bit:
        if arr.dtype != np.uint8:
            raise ValueError("JPEG Baseline holds 8-bit samples")
        frame = imagecodecs.jpeg8_encode(arr, level=95)
    elif syntax == HTJ2KLossless:
        frame = imagecodecs.htj2k_encode(arr, reversible=True)
    else:
        raise ValueError(f"no encoder for {syntax.name}")
    ds.PixelData = encapsulate([bytes(frame)])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = syntax
    if syntax not in (JPEGLosslessSV1, HTJ2KLossless):
        ds.LossyImageCompression = "01"
    return ds


def write_encoded(arr8: np.ndarray, path: Path, syntax: UID) -> Path:
    """The windowed 12-bit dataset (8-bit for JPEG baseline) in ``syntax``, no GDCM."""
    if syntax == JPEGBaseline8Bit:
        center, width = linear_window(0.0, 255.0)
        ds = dicom_dataset(arr8, 8, WindowCenter=center, WindowWidth=width)
    else:
        ds = windowed_dataset(arr8)
    return save(encode_dataset(ds, syntax), path)
