"""`esctl append`'s pipeline, one module per stage:

    sources      the input files, standard input and FIFOs (spooled for a second pass)
    decoding     their bytes into JSON values, strictly, with file and line
    new_events   one value checked into a NewEvent (fields, names, ids, versions, times)
    validation   every event checked in order (problems, per-stream plan, ids given twice)
    writing      append_events: units (transactions), the single pass, retries
      fast_path    versions assigned here, rows sent in bulk
      idempotency  the careful path: stored event ids looked up, duplicates skipped
      versions     --expected-version, per-stream results, version errors (exit 3)
      state        what committed units and the unit being written did to each stream
    interrupts   Ctrl-C and SIGTERM around a COMMIT, and how far an append got

The store is reached only through its ports (`tx.log`: `esctl.ports.EventWrites`): no SQL here.
Nothing is imported by this package module itself, so `esctl append --help` and completion stay
fast.
"""
