"""Export a Keras MobileNet v1 to TFLite and ONNX files, calibrate, verify, publish an artifact."""
