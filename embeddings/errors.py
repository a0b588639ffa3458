"""Errors about the index; each message says what to do next."""


class IndexError_(Exception):
    """The index is missing, corrupt or unusable."""


class IndexMismatch(IndexError_):
    """The index was built with another model or settings than the configured ones."""


class EncoderError(Exception):
    """The embedding model could not be loaded."""
