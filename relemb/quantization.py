"""int8 inference on CPU: static post-training quantization of a relation model for the OpenVINO backend.

This is the quantization path sentence-transformers offers for its OpenVINO backend
(``sentence_transformers.backend.export_static_quantized_openvino_model``: optimum-intel's ``OVQuantizer``
with an ``OVQuantizationConfig``, run by NNCF), with one change: the calibration data. sentence-transformers'
function downloads a calibration set from the Hub by name (GLUE SST-2 by default) and pads every sentence to
384 tokens. Here the calibration samples are relation prompts that relemb supplies locally: the model's own
template rendered on the pairs of a relational-similarity training set (the bundled ``starter`` set, or
SemEval-2012's training pairs from the data folder; never an evaluation set), tokenized by the model's own
input module, unpadded, one prompt per sample, as the model sees them at inference.

The result is an ordinary relemb model folder (the fp32 weights, configs and model card, so it still loads on
the torch backend) with the int8 OpenVINO model beside them in ``openvino/``::

    from relemb.quantization import export_int8, load_int8

    export_int8("minilm", "minilm-int8")                  # calibration="starter": the bundled pairs
    model = load_int8("minilm-int8")                      # RelBERT.from_pretrained(..., backend="openvino",
                                                          #     model_kwargs={"file_name": INT8_FILE_NAME})
    model.get_embedding([("camera", "photographer")])

Needs the ``openvino`` extra and NNCF: ``pip install 'relemb[int8]'``. Inference only; results are float32
vectors that differ from fp32 by quantization noise (``docs/performance.md`` has the accuracy deltas).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from relemb._compat import requires
from relemb._io import atomic_directory, write_json
from relemb.pairs import Pair, check_pairs

if TYPE_CHECKING:
    from relemb.model import RelBERT

__all__ = [
    "CALIBRATION_SOURCES",
    "DEFAULT_CALIBRATION_SAMPLES",
    "INT8_FILE_NAME",
    "INT8_FILE_SUFFIX",
    "calibration_dataset",
    "calibration_pairs",
    "export_int8",
    "load_int8",
]

#: The suffix sentence-transformers gives a statically quantized OpenVINO file (``openvino_model_<suffix>.xml``).
INT8_FILE_SUFFIX = "qint8_quantized"
#: Where :func:`export_int8` puts the int8 model inside the model folder (``model_kwargs={"file_name": ...}``).
INT8_FILE_NAME = f"openvino/openvino_model_{INT8_FILE_SUFFIX}.xml"
#: Written beside the int8 model: what it was calibrated on and with which quantization settings.
CALIBRATION_RECORD = f"openvino/openvino_model_{INT8_FILE_SUFFIX}_calibration.json"
#: Named calibration sources: relational-similarity training sets of :func:`relemb.data.load_labelled_pairs`.
CALIBRATION_SOURCES = ("starter", "semeval2012")
#: Calibration prompts by default (NNCF's static quantization default is 300 samples).
DEFAULT_CALIBRATION_SAMPLES = 300


def _require_int8_packages() -> None:
    for module, package in (("optimum.intel", "optimum-intel"), ("nncf", "nncf")):
        requires(module, package, "int8", purpose="int8 quantization (relemb.quantization)")


def calibration_pairs(
    source: str | os.PathLike | Sequence[Sequence[str]] = "starter",
    num_samples: int = DEFAULT_CALIBRATION_SAMPLES,
    *,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
) -> list[Pair]:
    """The calibration pairs: ``num_samples`` unique pairs drawn (seeded, stratified by relation) from a
    relational-similarity training set (a name of :data:`CALIBRATION_SOURCES` or a path, through
    :func:`relemb.data.load_labelled_pairs`) or from a list of pairs (all of them if it has fewer).

    >>> pairs = calibration_pairs("starter", 16)
    >>> len(pairs), len(set(pairs))
    (16, 16)
    >>> calibration_pairs([("baker", "bread"), ("baker", "bread"), ("cat", "dog")])
    [('baker', 'bread'), ('cat', 'dog')]
    """
    from relemb.data import load_labelled_pairs, stratified_sample

    if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
    if isinstance(source, (str, os.PathLike)):
        labelled = load_labelled_pairs(source, "train", data_dir=data_dir, level="relation")
    else:
        labelled = [(pair, "") for pair in check_pairs(source)]
    first: dict[Pair, str] = {}
    for pair, label in labelled:
        first.setdefault(tuple(pair), label)  # type: ignore[arg-type]
    pairs, labels = list(first), list(first.values())
    if not pairs:
        raise ValueError(f"the calibration source {source!r} holds no pairs")
    keep = stratified_sample(labels, num_samples, seed=seed)
    return [pairs[i] for i in keep]


def calibration_dataset(model: RelBERT, pairs: Sequence[Sequence[str]]):
    """A ``datasets.Dataset`` of the tokenized prompts of ``pairs`` (one unpadded prompt per row: the model's
    template, tokenizer and mask check, :meth:`relemb.modules.RelationTransformer.preprocess`), the form
    optimum-intel's ``OVQuantizer.quantize`` takes for already-tokenized text.
    """
    from datasets import Dataset

    columns: dict[str, list[list[int]]] = {}
    for pair in check_pairs(pairs, mask_token=model.tokenizer.mask_token):
        features = model.transformer.preprocess([pair])
        for key in ("input_ids", "attention_mask", "token_type_ids"):
            if key in features:
                columns.setdefault(key, []).append(features[key][0].tolist())
    return Dataset.from_dict(columns)


def export_int8(
    model: RelBERT | str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    calibration: str | os.PathLike | Sequence[Sequence[str]] = "starter",
    num_samples: int = DEFAULT_CALIBRATION_SAMPLES,
    data_dir: str | os.PathLike | None = None,
    quantization_config: Any = None,
    seed: int = 0,
    load_kwargs: Mapping[str, Any] | None = None,
) -> str:
    """Write ``model`` with a statically quantized int8 OpenVINO model to ``output_dir``; returns the folder.

    Args:
        model: a :class:`~relemb.RelBERT` on the torch backend, or what ``RelBERT.from_pretrained`` loads (with
            ``load_kwargs``).
        output_dir: the model folder to write (created; the model's files in it are replaced). It holds the
            model as ``save_pretrained`` writes it, plus :data:`INT8_FILE_NAME` (``.xml`` and ``.bin``) and a record
            of the calibration (``openvino/..._calibration.json``). Written in a staging folder first, so a
            failure leaves nothing half-written.
        calibration: the calibration pairs: ``"starter"`` (bundled, default), ``"semeval2012"`` (the training
            pairs from the data folder, ``data_dir`` or ``RELEMB_DATA_DIR``), a path, or a list of pairs
            (:func:`calibration_pairs`, ``num_samples`` of them, seeded by ``seed``).
        quantization_config: an ``optimum.intel.OVQuantizationConfig`` (or its dict); default:
            ``OVQuantizationConfig(num_samples=..., fast_bias_correction=False)``: optimum-intel's default (8-bit,
            ``model_type="transformer"``) with NNCF's full bias correction, which is more accurate than the fast
            one (see docs/performance.md).

    Load the result with :func:`load_int8` (or ``RelBERT.from_pretrained(output_dir, backend="openvino",
    model_kwargs={"file_name": INT8_FILE_NAME})``).

    >>> export_int8("minilm", "minilm-int8", calibration="semeval2012")  # doctest: +SKIP
    'minilm-int8'
    """
    _require_int8_packages()
    from optimum.intel.openvino import OVConfig, OVQuantizationConfig, OVQuantizer
    from sentence_transformers.backend.utils import save_or_push_to_hub_model

    from relemb.model import RelBERT

    if isinstance(model, (str, os.PathLike)):
        model = RelBERT.from_pretrained(model, device="cpu", **dict(load_kwargs or {}))
    backend = getattr(model.transformer, "backend", "torch")
    if backend != "torch":
        raise ValueError(f"export_int8 quantizes a model loaded on the torch backend, not on {backend!r}")
    pairs = calibration_pairs(calibration, num_samples, data_dir=data_dir, seed=seed)
    if quantization_config is None:
        # NNCF's full bias correction instead of its fast approximation (optimum-intel's default): it kept every
        # analogy accuracy of MiniLM within 1 point of fp32 where the fast one lost up to 2.2 (docs/performance.md)
        quantization_config = OVQuantizationConfig(num_samples=len(pairs), fast_bias_correction=False)
    ov_config = OVConfig(quantization_config=quantization_config)  # a dict becomes an OVQuantizationConfig
    target = Path(output_dir)
    with atomic_directory(target) as staging:
        model.save_pretrained(staging, model_id=str(target))
        exported = RelBERT.from_pretrained(staging, device="cpu", backend="openvino")  # fp32 OpenVINO, in memory
        dataset = calibration_dataset(exported, pairs)
        quantizer = OVQuantizer.from_pretrained(exported.encoder.transformers_model)
        # sentence-transformers' own layout: openvino/openvino_model_<suffix>.xml/.bin in the model folder
        save_or_push_to_hub_model(
            export_function=lambda save_dir: quantizer.quantize(dataset, save_directory=save_dir, ov_config=ov_config),
            export_function_name="export_int8",
            config=ov_config.quantization_config,
            model_name_or_path=str(staging),
            push_to_hub=False,
            file_suffix=INT8_FILE_SUFFIX,
            backend="openvino",
            model=exported.encoder,
        )
        source = calibration if isinstance(calibration, str) else "pairs"
        write_json(
            staging / CALIBRATION_RECORD,
            {
                "file_name": INT8_FILE_NAME,
                "calibration_source": os.fspath(source) if isinstance(source, os.PathLike) else source,
                "calibration_prompts": len(pairs),
                "seed": seed,
                "template": model.template,
                "quantization_config": ov_config.quantization_config.to_dict(),
                "export": "optimum.intel OVQuantizer (NNCF static post-training quantization)",
            },
        )
    return str(target)


def load_int8(path: str | os.PathLike, **kwargs: Any) -> RelBERT:
    """The int8 model of a folder written by :func:`export_int8`: ``RelBERT.from_pretrained(path,
    backend="openvino", model_kwargs={"file_name": INT8_FILE_NAME, ...}, **kwargs)`` (``kwargs`` may add
    ``model_kwargs``, e.g. an ``ov_config``).

    >>> model = load_int8("minilm-int8")  # doctest: +SKIP
    """
    _require_int8_packages()
    from relemb.model import RelBERT

    if not (Path(path) / INT8_FILE_NAME).is_file():
        raise FileNotFoundError(f"no int8 model at {os.fspath(path)!r} (expected {INT8_FILE_NAME}; see export_int8)")
    model_kwargs = {"file_name": INT8_FILE_NAME, **dict(kwargs.pop("model_kwargs", None) or {})}
    return RelBERT.from_pretrained(path, backend="openvino", model_kwargs=model_kwargs, **kwargs)
