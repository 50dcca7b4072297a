"""Where relational knowledge lives in an encoder's attention.

- :mod:`relemb.attention.encode`: attention weights of relation prompts or sentences, with head/tail/mask positions.
"""

from relemb.attention.encode import AttentionEncoder, AttentionInput, EncodedInput, is_random_label

__all__ = ["AttentionEncoder", "AttentionInput", "EncodedInput", "is_random_label"]
