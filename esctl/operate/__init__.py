"""Operating a live store (issue 18): rates between samples, and the frames of `--watch`.

- `rates`: pure arithmetic on two samples taken at explicit times (tested without clocks);
- `watch`: one frame of `checkpoints list --watch` / `stats --watch`, sampled from the store.
"""
