"""Conversion stage: a trained Keras model to LiteRT flatbuffers.

``pneumo convert`` (:mod:`convert.cli`) writes the full-integer int8
classifier, the float32 model with a Grad-CAM ``explain`` signature
(:mod:`convert.explain`), the updated model card and the parity report
(:mod:`convert.parity`). Needs TensorFlow; nothing is imported here.
"""
