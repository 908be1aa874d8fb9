"""A result as a DICOM Comprehensive 3D SR following TID 1500 (Measurement Report).

One measurement group (TID 1501) holds the finding Pneumonia (SNOMED CT
233604007), the model's probability (DCM 122157 "Probability"), the decision
threshold (DCM 122411 "Threshold Value"), and a qualitative evaluation
Pneumonia = Present (SCT 52101004) or Absent (SCT 2667000) at that threshold,
with the algorithm identification (model name, version, and the model file's
sha256 among its parameters). The device (PneumoScan) is the observer; the
source image is in the image library, in the group's source images and in
the evidence. Patient and study come from the source (same
StudyInstanceUID, a new series); VerificationFlag is UNVERIFIED and the series
description says "NOT FOR DIAGNOSTIC USE".
"""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.sr.coding import Code

from pneumo.results.provenance import MANUFACTURER, PRODUCT, ModelIdentity

PNEUMONIA = Code("233604007", "SCT", "Pneumonia")
PROBABILITY = Code("122157", "DCM", "Probability")
THRESHOLD = Code("122411", "DCM", "Threshold Value")
PRESENT = Code("52101004", "SCT", "Present")
ABSENT = Code("2667000", "SCT", "Absent")
NO_UNITS = Code("1", "UCUM", "no units")
CHEST_XRAY = Code("399208008", "SCT", "Plain chest X-ray")
NOT_FOR_DIAGNOSIS = "NOT FOR DIAGNOSTIC USE"
SR_SERIES_DESCRIPTION = f"{PRODUCT} result - {NOT_FOR_DIAGNOSIS}"
SR_SERIES_NUMBER = 9701


@dataclass(frozen=True)
class Finding:
    """One classification to report: probability, the threshold it was judged
    at, and the model that made it."""

    probability: float
    threshold: float
    model: ModelIdentity

    @property
    def label(self) -> str:
        """The model's label at :attr:`threshold`."""
        return self.model.label_for(self.probability, self.threshold)

    @property
    def present(self) -> bool:
        """True when the label is the positive (pneumonia) one."""
        return self.label == self.model.labels[1]


def algorithm(finding: Finding) -> object:
    """The TID 4019 algorithm identification of the model behind ``finding``."""
    from highdicom.sr import AlgorithmIdentification

    model = finding.model
    return AlgorithmIdentification(
        name=f"{PRODUCT} {model.architecture}",
        version=model.name,
        parameters=[f"model file {model.file_name}", f"model sha256 {model.sha256}",
                    f"software {PRODUCT} {model.software_version}",
                    f"threshold {finding.threshold:.6f}"],
        manufacturer=MANUFACTURER,
    )


def device_uid() -> str:
    """A stable UID for this installation as an SR observer (from the host name)."""
    from pydicom.uid import generate_uid

    from pneumo.results.provenance import host_name

    return str(generate_uid(entropy_srcs=[PRODUCT, "device", host_name()]))


#: Type 2 patient and study attributes highdicom reads from the source: an
#: image without them gets them empty ("unknown"), as the standard allows.
SOURCE_TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                "AccessionNumber", "StudyID", "StudyDate", "StudyTime", "ReferringPhysicianName")


def source_header(source: Dataset) -> Dataset:
    """A copy of ``source`` without pixels, with empty Type 2 patient/study
    attributes where the file has none."""
    header = Dataset()
    for element in source:
        if element.tag.group != 0x7FE0 and element.tag < 0x7FE00000:
            header.add(element)
    meta = getattr(source, "file_meta", None)
    if meta is not None:
        header.file_meta = meta
    for keyword in SOURCE_TYPE2:
        if keyword not in header:
            setattr(header, keyword, None)
    return header


def _library_describes(source: Dataset) -> bool:
    """Whether highdicom can describe ``source`` in an image library: for a
    projection radiograph it needs Patient Orientation and Imager Pixel Spacing
    (optional in CR and DX); without them the library (optional in TID 1500)
    is left out and the image stays referenced by the group and the evidence."""
    projection = str(source.get("Modality", "")) in ("CR", "DX", "RF", "XA", "RG", "MG", "PX")
    return not projection or ("PatientOrientation" in source and "ImagerPixelSpacing" in source)


def build_sr(source: Dataset, finding: Finding, *, series_uid: str, sop_uid: str) -> Dataset:
    """The SR for ``finding`` about the image ``source`` (headers suffice)."""
    from highdicom.sr import (
        Comprehensive3DSR,
        DeviceObserverIdentifyingAttributes,
        Measurement,
        MeasurementReport,
        MeasurementsAndQualitativeEvaluations,
        ObservationContext,
        ObserverContext,
        QualitativeEvaluation,
        SourceImageForMeasurementGroup,
        TrackingIdentifier,
    )
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    source = source_header(source)
    algorithm_id = algorithm(finding)
    observer = ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=DeviceObserverIdentifyingAttributes(
            uid=device_uid(), name=PRODUCT, manufacturer_name=MANUFACTURER,
            model_name=f"{finding.model.architecture} {finding.model.name}"[:64],
        ),
    )
    group = MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(
            uid=str(generate_uid(entropy_srcs=[sop_uid, "tracking"])),
            identifier="pneumonia classification"),
        finding_type=PNEUMONIA,
        algorithm_id=algorithm_id,  # type: ignore[arg-type]
        measurements=[
            Measurement(name=PROBABILITY, value=float(finding.probability), unit=NO_UNITS,
                        algorithm_id=algorithm_id),  # type: ignore[arg-type]
            Measurement(name=THRESHOLD, value=float(finding.threshold), unit=NO_UNITS),
        ],
        qualitative_evaluations=[
            QualitativeEvaluation(name=PNEUMONIA, value=PRESENT if finding.present else ABSENT),
        ],
        source_images=[SourceImageForMeasurementGroup.from_source_image(source)],
    )
    report = MeasurementReport(
        observation_context=ObservationContext(observer_device_context=observer),
        procedure_reported=CHEST_XRAY,
        imaging_measurements=[group],
        referenced_images=[source] if _library_describes(source) else None,
    )
    sr = Comprehensive3DSR(
        evidence=[source],
        content=report,
        series_instance_uid=series_uid,
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=sop_uid,
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        is_final=False,
        is_verified=False,
    )
    sr.SeriesDescription = SR_SERIES_DESCRIPTION
    sr.ManufacturerModelName = PRODUCT
    sr.SoftwareVersions = finding.model.software_version
    return sr
