"""The learned-prompt layout ``[T]*n1 <subj> [T]*n2 <obj> [T]*n3 <mask>`` as relemb template strings.

Trigger slots are numbered left to right. A template is the slot texts joined by single spaces, so
it renders through :class:`~relemb.modules.RelationTransformer` like any manual template, and the
character span of every trigger in a rendered prompt is known from the layout alone.

>>> layout = TriggerLayout(1, 2, 0)
>>> layout.template(["we", "love", "our"])
'we <subj> love our <obj> <mask>'
>>> layout.trigger_spans(["we", "love", "our"], "cat", "milk", "[MASK]")
[(0, 2), (7, 11), (12, 15)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from relemb.prompts import MASK, OBJ, SUBJ, render_prompt


@dataclass(frozen=True)
class TriggerLayout:
    """Numbers of trigger tokens before ``<subj>`` (``n1``), between the words (``n2``) and before
    ``<mask>`` (``n3``); the mask always ends the prompt."""

    n1: int
    n2: int
    n3: int

    def __post_init__(self) -> None:
        for name in ("n1", "n2", "n3"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if self.n_triggers == 0:
            raise ValueError("a learned prompt needs at least one trigger token (n1 + n2 + n3 = 0)")

    @property
    def n_triggers(self) -> int:
        return self.n1 + self.n2 + self.n3

    def starts_text(self, slot: int) -> bool:
        """Whether trigger ``slot`` is the first word of the prompt text (no space before it)."""
        return slot == 0 and self.n1 > 0

    def parts(self, triggers: Sequence[str], head: str = SUBJ, tail: str = OBJ, mask: str = MASK) -> list[str]:
        """The space-separated parts of the prompt, left to right."""
        if len(triggers) != self.n_triggers:
            raise ValueError(f"the layout {self} has {self.n_triggers} trigger slots, got {len(triggers)} triggers")
        for index, trigger in enumerate(triggers):
            if not isinstance(trigger, str) or not trigger or trigger != trigger.strip() or " " in trigger:
                raise ValueError(f"trigger {index} must be one word without spaces, got {trigger!r}")
        t = list(triggers)
        a, b = self.n1, self.n1 + self.n2
        return [*t[:a], head, *t[a:b], tail, *t[b:], mask]

    def template(self, triggers: Sequence[str]) -> str:
        """The relemb template string with ``triggers`` in the slots (mask at the end)."""
        return " ".join(self.parts(triggers))

    def trigger_spans(self, triggers: Sequence[str], head: str, tail: str, mask_token: str) -> list[tuple[int, int]]:
        """Character spans ``(start, end)`` of the triggers in the prompt of ``(head, tail)``."""
        parts = self.parts(triggers, head, tail, mask_token)
        slot_parts = [i for i in range(len(parts)) if i not in self._word_part_indices()]
        spans, offset, starts = [], 0, []
        for part in parts:
            starts.append(offset)
            offset += len(part) + 1
        for index in slot_parts:
            spans.append((starts[index], starts[index] + len(parts[index])))
        rendered = render_prompt(self.template(triggers), head, tail, mask_token)
        if " ".join(parts) != rendered:  # the layout and the renderer must agree
            raise RuntimeError(f"layout rendering {' '.join(parts)!r} differs from the template's {rendered!r}")
        return spans

    def _word_part_indices(self) -> tuple[int, int, int]:
        """Indices of ``<subj>``, ``<obj>`` and ``<mask>`` among :meth:`parts`."""
        return (self.n1, self.n1 + 1 + self.n2, self.n_triggers + 2)

    def __str__(self) -> str:
        return f"[T]*{self.n1} <subj> [T]*{self.n2} <obj> [T]*{self.n3} <mask>"
