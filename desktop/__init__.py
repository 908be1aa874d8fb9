"""PneumoScan desktop app (PySide6): worklist, viewer, Grad-CAM overlay, exports.

Runs on the LiteRT runtime alone; nothing here imports TensorFlow. Start it
with ``pneumo gui [PATHS...]`` or :func:`desktop.app.main`.
"""
