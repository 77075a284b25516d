"""The event words a person may ask for, read the same way for subscriptions and alerts."""

from __future__ import annotations

from collections.abc import Iterable


def chosen(words: Iterable[str], known: tuple[str, ...], every: tuple[str, ...],
           options: tuple[str, ...], default: Iterable[str]) -> frozenset[str]:
    """The events (and options) *words* ask for: ``all`` stands for *every*, no event word
    for *default*. ValueError, whose message is the line to answer, for an unknown word."""
    wanted = {word.lower() for word in words}
    if "all" in wanted:
        wanted = (wanted - {"all"}) | set(every)
    unknown = sorted(wanted - set(known) - set(options))
    if unknown:
        extra = f" (and {', '.join(options)})" if options else ""
        raise ValueError(f"Unknown event {unknown[0][:20]!r}: use {', '.join(known)} or "
                         f"all{extra}.")
    picked = wanted & set(options)
    return frozenset((wanted - picked or set(default)) | picked)
