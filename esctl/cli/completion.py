"""Dynamic shell completion: profile names, stream ids and subscription names.

The generated scripts in `completions/` complete commands and options by themselves (no Python on
each Tab); for a value whose parameter has one of these functions as its `autocompletion=`, they
call back into esctl. Each completer must be quick and must never print an error into someone's
prompt: queries are bounded (LIMIT, a one-second connect and statement timeout, read-only) and any
failure at all yields no candidates.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from esctl.config import Settings

if TYPE_CHECKING:
    from esctl.store.base import Store

# At most this many candidates: enough to pick from, small enough to stay cheap on a huge store.
MAX_CANDIDATES = 50
TIMEOUT_SECONDS = 1


def _global_options(ctx: Any) -> dict[str, Any]:
    """The global options typed so far (`-p`, `-s`, `-c`), wherever they were on the line."""
    root = ctx.find_root() if ctx is not None else None
    params = dict(getattr(root, "params", None) or {})
    return {key: params.get(key) for key in ("profile", "store", "config")}


def profile_names(config: str | None = None, incomplete: str = "") -> list[str]:
    """The profiles in the config file esctl would use, in file order."""
    from esctl.config import find_config_file, load_config_file

    path = find_config_file(config, os.environ, Path.cwd())
    if path is None:
        return []
    profiles = load_config_file(path).get("profiles") or {}
    return [str(name) for name in profiles if str(name).startswith(incomplete)]


def stream_ids(settings: Settings, incomplete: str = "") -> list[str]:
    """Stream ids starting with `incomplete`, from the store of `settings` (bounded query)."""
    with _completion_store(settings) as store, store.reading() as tx:
        rows = tx.log.stream_ids(incomplete, MAX_CANDIDATES)
    return [r for r in rows if r.startswith(incomplete)]


def subscription_names(settings: Settings, incomplete: str = "") -> list[str]:
    """Subscription (checkpoint) names starting with `incomplete` (bounded query)."""
    from esctl.store.esctl_layout.names import subscription_ids

    with _completion_store(settings) as store, store.reading() as tx:
        rows = subscription_ids(tx, incomplete, MAX_CANDIDATES)
    return [r for r in rows if r.startswith(incomplete)]


def _completion_store(settings: Settings) -> Store:
    """The store, with timeouts short enough for a shell waiting on a Tab."""
    from esctl.store import open_store

    settings = replace(
        settings, connect_timeout=TIMEOUT_SECONDS, statement_timeout_ms=TIMEOUT_SECONDS * 1000
    )
    return open_store(settings, write=False)


def _settings(ctx: typer.Context) -> Settings:
    """The settings the line's global options (`-s`, `-p`, `-c`) select."""
    from esctl.config import resolve_settings

    options = _global_options(ctx)
    return resolve_settings(
        config=options["config"], profile=options["profile"], store=options["store"]
    )


def _silent(produce: Callable[[], list[str]]) -> list[str]:
    """Candidates, or none on any failure: a completion must never break the prompt."""
    try:
        return produce()[:MAX_CANDIDATES]
    except Exception:
        return []


# The `autocompletion=` functions (Typer passes the context and the word being completed).


def complete_profile(ctx: typer.Context, incomplete: str) -> list[str]:
    """`--profile NAME`: the profiles of the config file in use."""
    options = _global_options(ctx)
    return _silent(lambda: profile_names(options["config"], incomplete))


def complete_stream(ctx: typer.Context, incomplete: str) -> list[str]:
    """A STREAM argument: stream ids from the store the line points at."""
    return _silent(lambda: stream_ids(_settings(ctx), incomplete))


def complete_subscription(ctx: typer.Context, incomplete: str) -> list[str]:
    """A subscription NAME (`checkpoints show|set|delete`, `tail --checkpoint`)."""
    return _silent(lambda: subscription_names(_settings(ctx), incomplete))


# The protocol between the generated scripts and esctl: `_ESCTL_COMPLETE=complete_esctl`,
# `COMP_WORDS` = the words of the line up to the cursor, one per line (as the shell split them),
# `COMP_CWORD` = the index of the word being completed. Output: one candidate per line.


def completion_args(words: list[str], cword: int) -> tuple[list[str], str]:
    """Click's (args, incomplete) from a shell's words: `--opt = value` glued back together (bash
    splits at `=`), and global options moved in front, as esctl's own parser does, so that
    `esctl config show -p <Tab>` completes the global `--profile`."""
    from esctl.cli.globals import GLOBAL_FLAGS, GLOBAL_VALUE_OPTIONS

    words = (list(words) + [""] * (cword + 1))[: cword + 1]
    glued: list[str] = []
    for index, word in enumerate(words[1:], 1):
        if glued and glued[-1].startswith("-") and (word == "=" or words[index - 1] == "="):
            glued[-1] += word
        else:
            glued.append(word)
    incomplete = glued.pop() if glued else ""

    def is_global_assignment(word: str) -> bool:
        return (
            word.startswith("--") and "=" in word and word.split("=", 1)[0] in GLOBAL_VALUE_OPTIONS
        )

    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(glued):
        word = glued[index]
        if word in GLOBAL_VALUE_OPTIONS:
            if index + 1 == len(glued):  # the value being completed is this option's
                return [*front, word], incomplete
            front += glued[index : index + 2]
            index += 2
            continue
        (front if word in GLOBAL_FLAGS or is_global_assignment(word) else rest).append(word)
        index += 1
    if is_global_assignment(incomplete):
        return front, incomplete
    return [*front, *rest], incomplete


def _register_protocol() -> None:
    from typer._click.shell_completion import CompletionItem, ShellComplete, add_completion_class

    class EsctlComplete(ShellComplete):
        """Completion requests from the scripts in `completions/` (any shell)."""

        name = "esctl"
        source_template = ""

        def source_vars(self) -> dict[str, Any]:
            return {}

        def get_completion_args(self) -> tuple[list[str], str]:
            words = os.environ.get("COMP_WORDS", "").split("\n")
            return completion_args(words, int(os.environ.get("COMP_CWORD", len(words) - 1)))

        def format_completion(self, item: CompletionItem) -> str:
            return str(item.value)

    add_completion_class(EsctlComplete, "esctl")


_register_protocol()
