"""The context-window filter: keep the texts that fit every model's window.

One kept set serves every model, so results stay comparable across models (chapter 1,
``notebooks/01_data.ipynb``; chapter 3 samples contextualized embeddings from it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..errors import InputError
from .integrity import show_line

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class WindowFilter(Generic[T]):
    """Result of :func:`filter_to_window`.

    Attributes:
        kept: items that fit the context window of every model, in input order.
        dropped: the other items, in input order.
        dropped_by_model: for each model, how many items it alone would drop.
        limits: for each model, the maximum number of tokens allowed.
        token_counts: for each model, the token count of every input item, in input order.
    """

    kept: list[T]
    dropped: list[T]
    dropped_by_model: dict[str, int]
    limits: dict[str, int]
    token_counts: dict[str, list[int]]

    @property
    def n_items(self) -> int:
        """Number of items that were filtered."""
        return len(self.kept) + len(self.dropped)

    def summary(self, noun: str = "sentences") -> str:
        """One sentence describing the result.

        Example: ``"kept 36,123 of 39,443 sentences; dropped 3,320 (clip: 3,320, gpt2: 0)"``.
        """
        detail = ", ".join(f"{model}: {n:,}" for model, n in self.dropped_by_model.items())
        return (
            f"kept {len(self.kept):,} of {self.n_items:,} {noun}; "
            f"dropped {len(self.dropped):,} ({detail})"
        )


def _item_text(item: object) -> str:
    """Default text accessor: the item itself if it is a string, else its ``text`` attribute."""
    if isinstance(item, str):
        return item
    text = getattr(item, "text", None)
    if isinstance(text, str):
        return text
    raise InputError(
        f"cannot get the text of {type(item).__name__} item {item!r}; pass text=<function "
        "returning the string>."
    )


def filter_to_window(
    items: Sequence[T] | Iterable[T],
    counters: Mapping[str, tuple[Callable[[str], int], int]],
    text: Callable[[T], str] = _item_text,
) -> WindowFilter[T]:
    """Keep the items whose text fits the context window of every model.

    The same kept set then serves every model, so results stay comparable across models.

    Args:
        items: strings, :class:`~layerwise.data.sts.Sentence` objects, or anything ``text``
            turns into a string.
        counters: model name -> (function giving the number of tokens a text takes, counting
            the special tokens the model adds, and the maximum number of tokens allowed). Each
            function is called exactly once per item.
        text: returns the text of an item; by default the item itself if it is a string,
            otherwise its ``text`` attribute.

    Returns:
        A :class:`WindowFilter`; an item is kept when its count is ``<= limit`` for every model.

    Raises:
        InputError: no model given, a limit that is not a positive integer, a counter that is
            not callable or returns something other than a non-negative integer.
    """
    if not counters:
        raise InputError("filter_to_window needs at least one model in `counters`.")
    checked: dict[str, tuple[Callable[[str], int], int]] = {}
    for model, spec in counters.items():
        try:
            count_fn, limit = spec
        except (TypeError, ValueError):
            raise InputError(
                f"counters[{model!r}] must be a (count function, max tokens) pair, got {spec!r}."
            ) from None
        if not callable(count_fn):
            raise InputError(f"counters[{model!r}]: the count function is not callable.")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            raise InputError(
                f"counters[{model!r}]: max tokens must be a positive integer, got {limit!r}."
            )
        checked[model] = (count_fn, limit)

    items = list(items)
    texts = [text(item) for item in items]
    token_counts: dict[str, list[int]] = {}
    for model, (count_fn, _limit) in checked.items():
        counts: list[int] = []
        for item_text in texts:
            n = count_fn(item_text)
            if isinstance(n, bool) or not hasattr(n, "__index__") or int(n) < 0:
                raise InputError(
                    f"counters[{model!r}] returned {n!r} for {show_line(item_text)}; expected a "
                    "non-negative integer number of tokens."
                )
            counts.append(int(n))
        token_counts[model] = counts

    limits = {model: limit for model, (_fn, limit) in checked.items()}
    kept: list[T] = []
    dropped: list[T] = []
    for index, item in enumerate(items):
        fits = all(token_counts[model][index] <= limits[model] for model in limits)
        (kept if fits else dropped).append(item)
    dropped_by_model = {
        model: sum(1 for n in token_counts[model] if n > limits[model]) for model in limits
    }
    return WindowFilter(kept, dropped, dropped_by_model, limits, token_counts)
