"""The ONNX Runtime backends (``onnx``, ``onnx-int8``): a model exported locally, then served.

- ``encoder``: ``OnnxEncoder``, serving (numpy, onnxruntime and tokenizers only)
- ``export``: export, fuse, quantise and check against torch (torch imported only to export)
- ``cache``: where derived files live, atomic writes with manifests, one builder at a time
- ``session``: ONNX Runtime sessions and padded inputs, shared by serving and the checks
"""

from embeddings.onnx.encoder import OnnxEncoder
from embeddings.onnx.export import OnnxExportError, model_fingerprint

__all__ = ["OnnxEncoder", "OnnxExportError", "model_fingerprint"]
