"""The old import path of `esctl.read.follow` (the live follower behind `tail`)."""

from esctl.read.follow import (
    BATCH_SIZE,
    POLL_INTERVAL,
    RECONNECT_FOR,
    Follower,
    StartAt,
    start_cursor,
    stop_on_signals,
)

__all__ = ["BATCH_SIZE", "POLL_INTERVAL", "RECONNECT_FOR", "Follower", "StartAt", "start_cursor"]
__all__ += ["stop_on_signals"]
