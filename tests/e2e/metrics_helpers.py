"""Reading `/metrics` in tests: the text parsed by prometheus-client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample of an exposition: (name, labels, value)."""
    families = text_string_to_metric_families(text)
    return [(s.name, dict(s.labels), s.value) for f in families for s in f.samples]


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels` (0 when there is none)."""
    return sum(v for n, have, v in samples(text) if n == name and labels.items() <= have.items())


def label_values(text: str, name: str, label: str) -> set[str]:
    return {have[label] for n, have, _ in samples(text) if n == name and label in have}
