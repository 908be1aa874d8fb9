"""The model: its card, the one preprocessing function, the LiteRT runner,
Grad-CAM, the out-of-distribution score and calibration, and where the
shipped files are found."""
