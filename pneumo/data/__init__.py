"""Labelled data sets: listing images, patient-level splits, model inputs."""
