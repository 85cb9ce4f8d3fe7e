"""A profile's lifecycle settings (SPEC "Lifecycle"): `retention:` maps categories to `max_age`
(a duration: events older than that go) and/or `max_count` (each stream keeps its newest N
events), and `archive_dir:` is where `retention apply` archives what it removes. Parsed once,
for `esctl.config`, with errors that name the file, profile and key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from esctl.errors import ConfigError

LIFECYCLE_KEYS = frozenset({"retention", "archive_dir"})
EXAMPLE = "retention: {Order: {max_age: 365d}, Session: {max_age: 30d, max_count: 1000}}"


@dataclass(frozen=True)
class RetentionRule:
    """One category's rule: events older than `max_age_seconds`, and those beyond each stream's
    newest `max_count`, go (either rule takes an event)."""

    category: str
    max_age: str | None = None  # as written, e.g. "90d"
    max_age_seconds: float | None = None
    max_count: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "max_age": self.max_age, "max_count": self.max_count}


@dataclass(frozen=True)
class LifecycleSettings:
    retention: tuple[RetentionRule, ...] = ()
    archive_dir: str | None = None


def lifecycle_settings(profile: dict[str, Any], where: str) -> LifecycleSettings:
    """The `retention:` and `archive_dir:` of a profile; ConfigError naming `where` (the file
    and profile) and the key when either is malformed."""
    from esctl.timeparse import parse_duration

    archive_dir = profile.get("archive_dir")
    if archive_dir is not None and (not isinstance(archive_dir, str) or not archive_dir):
        raise ConfigError(f"{where}: archive_dir must be a directory path")
    raw = profile.get("retention")
    if raw is None:
        return LifecycleSettings((), archive_dir)
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}: retention must map categories to rules", hint=EXAMPLE)
    rules = []
    for category, rule in raw.items():
        at = f"{where}: retention: {category}"
        if not isinstance(category, str) or not category or "\x00" in category:
            raise ConfigError(f"{where}: retention: a category must be a non-empty name")
        if not isinstance(rule, dict) or not rule or set(rule) - {"max_age", "max_count"}:
            raise ConfigError(f"{at} must have max_age and/or max_count", hint=EXAMPLE)
        age, count = rule.get("max_age"), rule.get("max_count")
        seconds = None
        if age is not None:
            if not isinstance(age, str):
                raise ConfigError(f"{at}: max_age must be a duration such as 90d", hint=EXAMPLE)
            seconds = parse_duration(age, f"{at}: max_age", bare_unit=None, error=ConfigError)
            if seconds <= 0:
                raise ConfigError(f"{at}: max_age must be longer than 0")
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or count < 1
        ):
            raise ConfigError(f"{at}: max_count must be a whole number of events, 1 or more")
        rules.append(RetentionRule(category, age, seconds, count))
    return LifecycleSettings(tuple(rules), archive_dir)
