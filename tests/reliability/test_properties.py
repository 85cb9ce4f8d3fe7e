"""Property-based round trip: any event esctl accepts comes back from `read -o jsonl` with the same
stream id, type, data, metadata and id; anything it refuses is exit 6 with nothing written."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.data import all_events
from tests.support.figures import record
from tests.support.processes import run_cli
from tests.support.stores import Target

pytestmark = pytest.mark.reliability

# PostgreSQL cannot store NUL or unpaired surrogates in text or jsonb (esctl refuses them: see
# test_hostile_input); everything else in Unicode is fair game.
TEXT = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
NAMES = st.text(TEXT, min_size=1, max_size=40)
SCALARS = (
    st.none()
    | st.booleans()
    # Past 64 bits too: the fast decoder (orjson) would make floats of those, so they must take
    # the strict path and come back with every digit.
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.integers(min_value=2**64 + 1, max_value=2**90)
    | st.integers(min_value=-(2**90), max_value=-(2**63) - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(TEXT, max_size=30)
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(TEXT, max_size=10), children, max_size=4)
    ),
    max_leaves=15,
)
OBJECTS = st.dictionaries(st.text(TEXT, max_size=10), JSON, max_size=5)

OUTCOMES = {"stored": 0, "refused": 0}


def _same(left: Any, right: Any) -> bool:
    """JSON equality, numbers compared as a JSON reader would (see below)."""
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            _same(a, b) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    if isinstance(left, float) or isinstance(right, float):
        # jsonb keeps the decimal text (1.963719210433659e+16 comes back as 19637192104336590):
        # the same number to any JSON reader that parses it as a double.
        return (
            isinstance(left, int | float)
            and isinstance(right, int | float)
            and float(left) == float(right)
        )
    if isinstance(left, int) and isinstance(right, int):
        return left == right
    return bool(left == right) and type(left) is type(right)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    stream_id=NAMES,
    event_type=NAMES,
    data=OBJECTS,
    metadata=OBJECTS,
)
def test_append_then_read_round_trips(
    initialised: Target,
    stream_id: str,
    event_type: str,
    data: dict[str, Any],
    metadata: dict[str, Any],
) -> None:
    event_id = uuid.uuid4()  # fresh: the store persists across examples, ids must not repeat
    event = {
        "stream_id": stream_id,
        "event_type": event_type,
        "data": data,
        "metadata": metadata,
        "event_id": str(event_id),
    }
    before = len(all_events(initialised))
    appended = run_cli("append", "-", input=json.dumps(event) + "\n")
    if appended.exit_code == 6:
        OUTCOMES["refused"] += 1
        assert appended.stderr.startswith("Error: "), appended.stderr
        assert "<stdin>:1" in appended.stderr, appended.stderr
        assert len(all_events(initialised)) == before
        return
    assert appended.exit_code == 0, appended.stderr
    OUTCOMES["stored"] += 1
    read = run_cli("read", "-o", "jsonl", "--", stream_id)  # `--`: a stream id may start with -
    assert read.exit_code == 0, read.stderr
    (stored,) = [
        e for e in map(json.loads, read.stdout.split("\n")[:-1]) if e["event_id"] == str(event_id)
    ]
    assert stored["stream_id"] == stream_id
    assert stored["event_type"] == event_type
    assert stored["stream_type"] == stream_id.split("-", 1)[0] or stored["stream_type"]
    assert _same(stored["data"], data), (stored["data"], data)
    assert _same(stored["metadata"], metadata), (stored["metadata"], metadata)
    # The output is valid input again: appending it elsewhere is how a stream moves.
    assert set(stored) >= {"global_position", "version", "created_at"}


def test_round_trip_examples_were_mostly_stored(initialised: Target) -> None:
    # Runs after the property test in file order; when run alone it has nothing to check.
    if OUTCOMES["stored"] + OUTCOMES["refused"]:
        record("hypothesis round trip", **OUTCOMES)
        assert OUTCOMES["stored"] > OUTCOMES["refused"], OUTCOMES
