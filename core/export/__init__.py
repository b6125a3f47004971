"""Trained weights going out: the format chosen from the file name and written (formats),
ONNX models (onnx_model), standalone Python modules (python_module), NumPy and JSON weights
and reading them back (weights_io), and the inputs' scaling an export carries (preprocessing)."""
