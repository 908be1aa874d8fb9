"""Which files are taken as images: the one list of file-name extensions.

The folder walk, the data set lister and the app's Open dialog all use
:data:`IMAGE_EXTENSIONS`; DICOM is also recognised by content whatever its
name (:func:`pneumo.films.sniff.is_dicom_file`).
"""

from __future__ import annotations

#: Extensions (lower case, with the dot) taken as images.
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm", ".dicom"})


def dialog_filter() -> str:
    """A file-dialog filter string listing :data:`IMAGE_EXTENSIONS`, then all files."""
    patterns = " ".join(f"*{ext}" for ext in sorted(IMAGE_EXTENSIONS))
    return f"Images and DICOM ({patterns});;All files (*)"
