"""relemb.data: every dataset relemb trains and evaluates on, by name, from a local copy or the Hub.

Sources, in order: an explicit ``data_dir`` (CLI ``--data-dir``), ``$RELEMB_DATA_DIR``, the Hugging Face
Hub (``relbert/*`` dataset files, downloaded one by one). A path to a ``.jsonl`` file works too.

>>> from relemb.data import load_analogy, load_relation_similarity, parent_classes
>>> questions = load_analogy("starter", "validation")   # bundled demo set, no download
>>> q = questions[0]
>>> len(q.stem), 0 <= q.answer < len(q.choice)
(2, True)
>>> len(parent_classes(load_relation_similarity("starter"))) >= 5
True

See ``docs/data.md`` for names, splits, formats and the SemEval-2012 builder.
"""

from __future__ import annotations

from .analogies import SELECTION_SOURCES, make_analogy_questions, selection_questions
from .errors import DataFormatError, DatasetNotFoundError, UnknownDatasetError
from .hierarchy import PARENT_CLASS_NAMES, parent_class_name, parent_classes, parent_of
from .jsonl import read_jsonl, write_jsonl
from .loaders import (
    LABEL_LEVELS,
    STARTER_DIR,
    load_analogy,
    load_labelled_pairs,
    load_lexical,
    load_lexical_splits,
    load_mapping,
    load_relation_similarity,
    semeval_validation_questions,
)
from .names import (
    ANALOGY_DATASETS,
    ANALOGY_SPLITS,
    BENCHMARK_ANALOGY_DATASETS,
    LEXICAL_DATASETS,
    LEXICAL_SPLITS,
    MAPPING_DATASETS,
    RELATION_SIMILARITY_DATASETS,
    RELATION_SIMILARITY_SPLITS,
    list_datasets,
)
from .pairfile import PAIR_FILE_FORMATS, read_pairs
from .records import RANDOM_LABELS, AnalogyQuestion, LexicalPair, MappingProblem, Pair, RelationRecord, is_random_label
from .sampling import stratified_sample
from .semeval import build_semeval2012
from .sources import DATA_DIR_ENV, record_sources, resolve_data_dir

__all__ = [
    "ANALOGY_DATASETS",
    "ANALOGY_SPLITS",
    "BENCHMARK_ANALOGY_DATASETS",
    "LABEL_LEVELS",
    "DATA_DIR_ENV",
    "LEXICAL_DATASETS",
    "LEXICAL_SPLITS",
    "MAPPING_DATASETS",
    "PAIR_FILE_FORMATS",
    "PARENT_CLASS_NAMES",
    "RANDOM_LABELS",
    "SELECTION_SOURCES",
    "RELATION_SIMILARITY_DATASETS",
    "RELATION_SIMILARITY_SPLITS",
    "STARTER_DIR",
    "AnalogyQuestion",
    "DataFormatError",
    "DatasetNotFoundError",
    "LexicalPair",
    "MappingProblem",
    "Pair",
    "RelationRecord",
    "UnknownDatasetError",
    "build_semeval2012",
    "is_random_label",
    "list_datasets",
    "load_analogy",
    "load_labelled_pairs",
    "load_lexical",
    "load_lexical_splits",
    "load_mapping",
    "load_relation_similarity",
    "make_analogy_questions",
    "parent_class_name",
    "parent_classes",
    "parent_of",
    "read_jsonl",
    "read_pairs",
    "record_sources",
    "resolve_data_dir",
    "selection_questions",
    "semeval_validation_questions",
    "stratified_sample",
    "write_jsonl",
]
