"""Reading films: recognise a file by content and decode it to grayscale pixels.

:mod:`~pneumo.films.sniff` tells DICOM from anything else by its first bytes,
:mod:`~pneumo.films.imaging` opens any supported file (:func:`load_image`) and
:mod:`~pneumo.films.dicom` maps DICOM stored values to display values.
"""
