"""PneumoScan as a DICOM node: a Storage SCP that classifies what it receives
(:mod:`pneumo.network.listener`) and sends results back (:mod:`pneumo.network.forward`).
pynetdicom is imported only by these modules, never by a plain scan."""
