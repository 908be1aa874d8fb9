"""Packages and package data, beside ``pyproject.toml`` (which has the rest).

The top-level ``assets/`` folder (models, model card, sample films) installs as
the package ``pneumo_assets``, so a wheel carries the models and
:func:`pneumo.model.locate.assets_dir` finds them through
:mod:`importlib.resources`. ``pyproject.toml`` alone cannot both discover
packages and map one onto a folder of another name.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["pneumo", "pneumo.*", "train", "train.*", "convert",
                                "convert.*", "desktop", "desktop.*"]),
        # data folders, listed so that setuptools ships them without a warning
        "pneumo.selftest.data",
        "pneumo_assets",
        "pneumo_assets.plots",
        "pneumo_assets.samples",
        "desktop.icons",
    ],
    package_dir={"pneumo_assets": "assets"},
    package_data={
        "pneumo.selftest.data": ["*.dcm"],
        "pneumo_assets": ["*.json", "*.md", "*.tflite", "*.keras"],
        "pneumo_assets.plots": ["*.png"],
        "pneumo_assets.samples": ["*"],
        "desktop.icons": ["*.png"],
    },
)
