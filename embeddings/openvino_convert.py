"""The OpenVINO half of an embedder export: ONNX -> OpenVINO IR, and static int8 by nncf on fixed texts.

Apart from ``embeddings.onnx_export`` (the recipe, the cache and the checks against torch) because only the
``@openvino`` recipes need it, and openvino and nncf are loaded only here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from embeddings.base import EmbedderUnavailable
from embeddings.privacy import keep_private
from embeddings.quiet import quiet_logger

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def to_openvino(onnx_path: Path, target: Path, tokenizer: PreTrainedTokenizerBase, max_seq_length: int,
                quantise_on: list[str] | None, overflow_fix: bool, step: Callable[[str], None]) -> None:
    """The ONNX export as OpenVINO IR (fp32 weights); with texts to ``quantise_on``, static int8 by nncf
    (SmoothQuant) calibrated on them."""
    try:
        import openvino
    except ImportError as exc:
        raise EmbedderUnavailable("the openvino embedder backends need openvino: pip install openvino") from exc
    model = openvino.Core().read_model(str(onnx_path))
    step("converting to OpenVINO")
    if quantise_on is not None:
        try:
            keep_private()  # nncf reports its use through openvino_telemetry unless it cannot import it
            import nncf
            from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, OverflowFix
        except ImportError as exc:
            raise EmbedderUnavailable("building the openvino-int8 embedder needs nncf: pip install nncf") from exc
        texts = quantise_on
        items = [dict(tokenizer(texts[i:i + 8], padding=True, truncation=True, max_length=max_seq_length,
                                return_tensors="np")) for i in range(0, len(texts), 8)]
        with quiet_logger(""), quiet_logger("nncf"):
            fix = OverflowFix.ENABLE if overflow_fix else None  # None: nncf's default (first layer)
            model = nncf.quantize(model, nncf.Dataset(items), model_type=nncf.ModelType.TRANSFORMER,
                                  subset_size=len(items),
                                  advanced_parameters=AdvancedQuantizationParameters(overflow_fix=fix))
        step("quantising to int8")
    openvino.save_model(model, str(target), compress_to_fp16=False)


def calibration_texts(first: tuple[str, ...]) -> list[str]:
    """Texts that set the static int8 ranges: ``first`` (the export's check texts), a few report-like sentences,
    and the prose paragraphs of Python's own help topics (``pydoc_data``, in every CPython). Not the bundled eval
    corpora, so the eval stays fair.
    """
    texts = list(first) + [
        "The committee approved the annual budget after a long debate about transport and housing costs.",
        "Heavy rain flooded the northern districts on Tuesday, and several roads remain closed.",
        "The study followed 2,400 patients for five years and found no difference between the two treatments.",
        "Exports rose by 4.2 per cent in the third quarter, driven mainly by machinery and chemicals.",
    ]
    try:
        from pydoc_data.topics import topics
    except ImportError:  # a Python without its help topics: the sentences above still calibrate
        return texts
    for name in sorted(topics):
        for block in topics[name].split("\n\n"):
            flat = " ".join(block.split())
            if len(flat) > 300 and flat[0].isupper() and ">>>" not in flat and "::" not in flat:
                texts.append(flat[:1500])
    return texts[:300]
