"""Silencing the exporters and quantisers while an embedder export is built: what they say is checked afterwards."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_export() -> Iterator[None]:
    """The legacy exporter's tracer and deprecation warnings are expected: the export is checked afterwards."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextmanager
def quiet_logger(name: str) -> Iterator[None]:
    """Only errors from ``name`` ("" is the root logger) meanwhile: the quantisers log every tensor they skip."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
