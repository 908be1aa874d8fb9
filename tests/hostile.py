"""A folder of hostile inputs beside one good film (issue 14's audit, rebuilt).

:func:`build_hostile_folder` writes, under ``root``: one good film; valid
films with hostile names (bytes that are not UTF-8, a newline, a trailing
space); other formats named ``.png`` (EPS, WEBP, ICO, DDS, QOI, FITS, GIF,
PGM); damaged JPEGs that still decode (a flipped bit libjpeg reports, a
stream cut short and closed with an end marker) and one cut short without
it; a film 1,000 folders deep; a broken symbolic link; a FIFO named like an
image; a hidden file; a text file. :class:`HostileFolder` says what each
should become: classified, classified with the damage warning, an error, or
skipped.
"""

from __future__ import annotations

import io
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
GOOD_FILM = REPO_ROOT / "assets" / "samples" / "normal_IM-0010-0001.jpeg"
DEPTH = 1000
NON_UTF8_NAME = os.fsdecode(b"bad_\xff\xfe.png")  # surrogateescape'd, as os.listdir gives it


@dataclass
class HostileFolder:
    """What each crafted path must become in a scan."""

    root: Path
    good: Path
    classified: list[Path] = field(default_factory=list)
    damaged: list[Path] = field(default_factory=list)
    errors: dict[Path, str] = field(default_factory=dict)  # path -> words of the error
    skipped: dict[Path, str] = field(default_factory=dict)  # path -> words of the reason

    @property
    def recorded(self) -> list[Path]:
        """Every path that must get a record."""
        return [*self.classified, *self.damaged, *self.errors]


def remove_tree(root: Path) -> None:
    """Delete a folder of any depth (``shutil.rmtree`` recurses per level in Python 3.11,
    and so would pytest's clean-up of old temporary folders)."""
    stack, folders = [str(root)], []
    while stack:
        folder = stack.pop()
        folders.append(folder)
        with os.scandir(folder) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    os.unlink(entry.path)
    for folder in reversed(folders):
        os.rmdir(folder)


def _jpeg(film: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(film).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def damaged_jpeg(data: bytes, seed: int = 0) -> bytes:
    """``data`` with one bit flipped where libjpeg-turbo reports corrupt data."""
    from pneumo.films.damage import jpeg_damage

    rng = random.Random(seed)
    start = data.find(b"\xff\xda") + 20
    for _ in range(2000):
        b = bytearray(data)
        b[rng.randrange(start, len(b) - 4)] ^= 1 << rng.randrange(8)
        if jpeg_damage(bytes(b)) is not None:
            return bytes(b)
    raise AssertionError("no reported bit flip found")


def _other_formats(film: np.ndarray) -> dict[str, bytes]:
    """Content of formats outside the allow-list, each to be named ``.png``."""
    img = Image.fromarray(film)
    out: dict[str, bytes] = {}
    for fmt in ("EPS", "WEBP", "ICO", "DDS", "QOI", "GIF", "PPM"):
        buf = io.BytesIO()
        (img.convert("RGB") if fmt in ("DDS", "QOI") else img).save(buf, fmt)
        out[fmt.lower()] = buf.getvalue()
    card = "SIMPLE  =                    T" + " " * 50
    head = card + "BITPIX  =                    8".ljust(80) + "NAXIS   =                    2".ljust(80)
    head += "NAXIS1  =                  256".ljust(80) + "NAXIS2  =                  256".ljust(80)
    head += "END".ljust(80)
    out["fits"] = head.ljust(2880).encode() + bytes(256 * 256).ljust(2880 * 23, b"\0")
    return out


def build_hostile_folder(root: Path, *, deep: bool = True) -> HostileFolder:
    """Write the hostile folder under ``root`` (see the module docstring)."""
    root.mkdir(parents=True, exist_ok=True)
    good = root / "good.jpeg"
    shutil.copyfile(GOOD_FILM, good)
    folder = HostileFolder(root=root, good=good, classified=[good])
    film = np.asarray(Image.open(GOOD_FILM).convert("L"))
    data = GOOD_FILM.read_bytes()

    for name in (NON_UTF8_NAME, "line\nbreak.jpeg", "trailing space.jpeg ", "tab\tand\x1bescape.jpg"):
        (root / name).write_bytes(data)
        folder.classified.append(root / name)

    for kind, content in _other_formats(film).items():
        path = root / f"{kind}_named.png"
        path.write_bytes(content)
        folder.errors[path] = "not an accepted image format"

    flipped = root / "bit_flipped.jpeg"
    flipped.write_bytes(damaged_jpeg(_jpeg(film)))
    closed = root / "cut_and_closed.jpeg"
    whole = _jpeg(film)
    closed.write_bytes(whole[: len(whole) * 2 // 3] + b"\xff\xd9")
    folder.damaged += [flipped, closed]
    cut = root / "cut_short.jpeg"
    cut.write_bytes(whole[: len(whole) // 2])
    folder.errors[cut] = "truncated JPEG"

    if deep:
        bottom = root / "deep"
        bottom.mkdir()
        for _ in range(DEPTH):  # one by one: mkdir(parents=True) itself recurses
            bottom = bottom / "d"
            bottom.mkdir()
        shutil.copyfile(GOOD_FILM, bottom / "deep.jpeg")
        folder.classified.append(bottom / "deep.jpeg")

    link = root / "gone.png"
    os.symlink(root / "no_such_target.png", link)
    folder.errors[link] = "broken symbolic link"
    fifo = root / "pipe.png"
    os.mkfifo(fifo)
    folder.errors[fifo] = "not a regular file"
    hidden = root / ".hidden.jpeg"
    hidden.write_bytes(data)
    folder.skipped[hidden] = "hidden"
    notes = root / "notes.txt"
    notes.write_text("not an image\n")
    folder.skipped[notes] = "not an image file"
    if os.geteuid() != 0:  # root reads anything: no unreadable file to be had
        locked = root / "IM000001"
        locked.write_bytes(b"\0" * 128 + b"DICM")
        locked.chmod(0)
        folder.errors[locked] = "permission denied"
    return folder


# -- what the decoder-isolation and memory work must handle (helper `decode`) --------
def add_decoder_crashers(root: Path) -> list[Path]:
    """Compressed DICOM whose header disagrees with its codestream, which makes GDCM
    throw a C++ exception through ``terminate`` (SIGABRT) when decoded in-process.

    Named to come first in a walk, so that while decoding is not isolated the
    abort ends a scan before the memory bombs are decoded (minutes, gigabytes).
    """
    import pydicom
    from pydicom.uid import JPEG2000Lossless, JPEGBaseline8Bit, JPEGLSLossless

    from tests import synth

    film = synth.film((256, 256), seed=1)
    work = root / ".work"
    work.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []

    def edit(syntax: object, name: str, **tags: object) -> None:
        src = synth.write_dicom_gdcm(film, work / f"{name}.src", syntax)  # type: ignore[arg-type]
        ds = pydicom.dcmread(src)
        for key, value in tags.items():
            setattr(ds, key, value)
        ds.save_as(root / name)
        out.append(root / name)

    edit(JPEGBaseline8Bit, "a_crash_bits_stored_7.dcm", BitsStored=7, HighBit=6)
    edit(JPEGLSLossless, "a_crash_jpegls_rows_beyond_codestream.dcm", Rows=4096, Columns=4096)
    edit(JPEG2000Lossless, "a_crash_j2k_labelled_rgb.dcm", PhotometricInterpretation="RGB",
         SamplesPerPixel=3, PlanarConfiguration=0)
    remove_tree(work)
    return out


def add_memory_bombs(root: Path) -> list[Path]:
    """Files whose decoding would take gigabytes: a deflated DICOM inflating 2 GiB,
    a 3 GB (sparse) file named .dcm, four 10,000 x 10,000 RGB PNGs."""
    from tests.crafted import GiB, deflated_bomb, uniform_png

    out = [deflated_bomb(root / "bomb_deflated_2gib.dcm", 2 * GiB), root / "bomb_3gb_sparse.dcm"]
    with open(out[1], "wb") as fh:
        fh.write(b"\0" * 128 + b"DICM")
        fh.truncate(3 * 10**9)
    png = uniform_png(10_000, 10_000)
    for i in range(4):
        path = root / f"bomb_10000x10000_rgb_{i}.png"
        path.write_bytes(png)
        out.append(path)
    return out
