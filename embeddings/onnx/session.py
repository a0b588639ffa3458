"""ONNX Runtime sessions and their inputs, the same for serving and for checking an export."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort


def available_cores() -> int:
    """The cores this process may run on (a container or taskset may allow fewer than exist)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def session_options(threads: int) -> ort.SessionOptions:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3  # errors only: ORT's warnings about unused initializers are noise
    return so


def open_session(path: Path, threads: int) -> ort.InferenceSession:
    """A CPU session for the graph at ``path`` (raises ORT's own errors if it cannot load)."""
    return ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])


def padded_inputs(encodings: Sequence[Any], pad_id: int, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The graph inputs ``names`` for tokenizer encodings, padded to the longest of them."""
    width = max(len(e.ids) for e in encodings)
    ids = np.full((len(encodings), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    types = np.zeros((len(encodings), width), dtype=np.int64)
    for row, e in enumerate(encodings):
        k = len(e.ids)
        ids[row, :k] = e.ids
        mask[row, :k] = 1
        types[row, :k] = e.type_ids
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    return {k: feed[k] for k in names}
