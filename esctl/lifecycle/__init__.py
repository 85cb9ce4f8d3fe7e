"""The store's lifecycle (SPEC "Lifecycle"): the audit trail of executed changes, the protection
of `events` (`init --protect`), and soft and hard deletes of streams. Features here reach the
store through ports only (`esctl.store.lifecycle`)."""
