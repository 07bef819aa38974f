"""The light runtime: numpy + Pillow + LiteRT (or tflite-runtime) / onnxruntime. Never imports TensorFlow."""
