"""Loading the model shows only Steward's own progress, not the libraries' bars."""

from __future__ import annotations

import pytest
from transformers.utils import logging as hf_logging

from embeddings.encoder import EncoderSettings, TorchEncoder


def test_loading_the_torch_encoder_prints_no_progress_bar(capfd: pytest.CaptureFixture[str]) -> None:
    assert hf_logging.is_progress_bar_enabled()
    encoder = TorchEncoder(EncoderSettings(backend="torch"))
    assert encoder.dimension == 384
    assert "Loading weights" not in capfd.readouterr().err
    # Hidden during the load only: a download the user allowed still shows its progress.
    assert hf_logging.is_progress_bar_enabled()
