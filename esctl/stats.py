"""The old import path of `esctl.read.stats`."""

from esctl.read.stats import EXACT_LIMIT, SAMPLE_ROWS, StoreStats, TypeCount, store_stats

__all__ = ["EXACT_LIMIT", "SAMPLE_ROWS", "StoreStats", "TypeCount", "store_stats"]
