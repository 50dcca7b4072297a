"""Where relational knowledge lives in an encoder's attention (docs/attention.md).

- :mod:`~relemb.attention.encode`: attention weights of relation prompts or sentences, with the head, tail
  and mask token positions, from any relemb model or plain encoder (eager attention, batched).
- :mod:`~relemb.attention.probes`: attention-feature relation probes with a random-init control
  (Chizhikova et al. 2022), hidden-state probes per layer, importance per layer and head, relation clustering.
- :mod:`~relemb.attention.tracing`: layer-wise attention tracing (Wu et al. 2020) and attention rollout
  (Abnar & Zuidema 2020), a score per input token, heat maps.
- :mod:`~relemb.attention.heads`: per-head statistics, Jensen-Shannon head distances with an MDS map, heads as
  zero-parameter relation classifiers (Clark et al. 2019).
- :mod:`~relemb.attention.plots`: the figures of all three (PNG, drawn without pyplot, written atomically).

The command line is ``relemb-eval attention-probe|attention-trace|attention-heads``.
"""

from relemb.attention.encode import AttentionEncoder, AttentionInput, EncodedInput, is_random_label, word_groups
from relemb.attention.heads import (
    HEAD_DIRECTIONS,
    HeadReport,
    HeadStatistics,
    RelationHeadAccuracy,
    analyze_heads,
    head_distances,
    head_relation_accuracy,
    head_statistics_for,
    mds_map,
    word_level_attention,
)
from relemb.attention.plots import (
    plot_dendrogram,
    plot_head_map,
    plot_head_statistics,
    plot_importance,
    plot_layer_scores,
    plot_relation_heads,
    plot_token_scores,
)
from relemb.attention.probes import (
    ProbeReport,
    ProbeResult,
    attention_features,
    cluster_relations,
    feature_importance,
    feature_names,
    fit_probe,
    hidden_state_features,
    probe_datasets,
    probe_relations,
    span_attention,
)
from relemb.attention.tracing import (
    TokenScores,
    attention_rollout,
    trace,
    trace_attention,
    word_scores,
)

__all__ = [
    "HEAD_DIRECTIONS",
    "AttentionEncoder",
    "AttentionInput",
    "EncodedInput",
    "HeadReport",
    "HeadStatistics",
    "ProbeReport",
    "ProbeResult",
    "RelationHeadAccuracy",
    "TokenScores",
    "analyze_heads",
    "attention_features",
    "attention_rollout",
    "cluster_relations",
    "feature_importance",
    "feature_names",
    "fit_probe",
    "head_distances",
    "head_relation_accuracy",
    "head_statistics_for",
    "hidden_state_features",
    "is_random_label",
    "mds_map",
    "plot_dendrogram",
    "plot_head_map",
    "plot_head_statistics",
    "plot_importance",
    "plot_layer_scores",
    "plot_relation_heads",
    "plot_token_scores",
    "probe_datasets",
    "probe_relations",
    "span_attention",
    "trace",
    "trace_attention",
    "word_groups",
    "word_level_attention",
    "word_scores",
]
