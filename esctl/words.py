"""Numbers and counted nouns in human messages: `1 event`, `300,000 events`, `2 streams`.

Every message that counts something says it through these, so all of them read the same
(thousands separators always; JSON output keeps plain numbers).
"""

from __future__ import annotations

# Nouns whose plural is not the noun plus "s".
IRREGULAR = {"was": "were", "is": "are", "has": "have", "entry": "entries", "this": "these"}


def number(n: int) -> str:
    """`300,000`: an integer with thousands separators."""
    return f"{n:,}"


def plural(n: int, noun: str, many: str | None = None) -> str:
    """`1 event`, `0 events`, `300,000 events` (`many` for an irregular plural)."""
    return f"{number(n)} {noun_for(n, noun, many)}"


def noun_for(n: int, noun: str, many: str | None = None) -> str:
    """`noun` or its plural, as `n` asks."""
    if n == 1:
        return noun
    return many or IRREGULAR.get(noun) or f"{noun}s"
