"""Which presentation contexts the listener accepts and the forwarder proposes.

The listener accepts every storage SOP class pynetdicom knows (radiography,
Secondary Capture and all other images, so that a modality never fails for
want of a context) with every transfer syntax our decoders read; what is not
a chest radiograph is then refused by the input gate and recorded as such.
"""

from __future__ import annotations

from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

#: Transfer syntaxes whose pixel data the loader decodes (pydicom with
#: pylibjpeg, GDCM and Pillow), uncompressed first.
ACCEPTED_SYNTAXES: tuple[UID, ...] = (
    ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian, RLELossless, JPEGLosslessSV1, JPEGLossless, JPEGLSLossless,
    JPEGLSNearLossless, JPEG2000Lossless, JPEG2000, HTJ2KLossless, HTJ2KLosslessRPCL, HTJ2K,
    JPEGBaseline8Bit, JPEGExtended12Bit,
)
#: What results are sent in (every PACS must accept these two).
FORWARD_SYNTAXES: tuple[UID, ...] = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)


def storage_sop_classes() -> list[UID]:
    """Every storage SOP class pynetdicom knows."""
    from pynetdicom import AllStoragePresentationContexts

    return [UID(str(cx.abstract_syntax)) for cx in AllStoragePresentationContexts]
