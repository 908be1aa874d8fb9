"""Measuring a model: binary metrics, evaluation on a labelled folder, plots."""
