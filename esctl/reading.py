"""The old import path of `esctl.read.events` and `esctl.read.streams` (kept for importers not
yet moved)."""

from esctl.read.events import (
    MAX_WARNINGS,
    EventFilter,
    Warn,
    capped,
    event_json_line,
    get_event,
    read_all,
    read_all_json,
    read_stream,
)
from esctl.read.streams import StreamInfo, list_streams, show_stream

__all__ = ["MAX_WARNINGS", "EventFilter", "StreamInfo", "Warn", "capped", "event_json_line"]
__all__ += ["get_event", "list_streams", "read_all", "read_all_json", "read_stream", "show_stream"]
