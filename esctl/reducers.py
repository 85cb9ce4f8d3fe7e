"""Reducers: how a stream's events fold into the state a snapshot stores. They live in
esctl.snapshots.reducers; reducers written for esctl import them from here
(`from esctl.reducers import merge`), which stays."""

from __future__ import annotations

from esctl.snapshots.reducers import (
    DEFAULT_REDUCER,
    NamedReducer,
    Reducer,
    ReducerChoice,
    State,
    deep_merge,
    load_reducer,
    merge,
)

__all__ = [
    "DEFAULT_REDUCER",
    "NamedReducer",
    "Reducer",
    "ReducerChoice",
    "State",
    "deep_merge",
    "load_reducer",
    "merge",
]
