"""Training stage: Keras models, the tf.data pipeline and ``pneumo train``.

Needs the ``train`` extra (TensorFlow). Imported lazily by ``pneumo.cli``.
"""
