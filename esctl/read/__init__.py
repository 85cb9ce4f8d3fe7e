"""Reading the store, grouped by job: `events` (read a stream, the log, one event), `streams`
(list, show), `stats`, `follow` (the live follower behind `tail`). Every function runs in
read-only transactions and holds no SQL: it asks the store's ports (`tx.log`, `store.live`)."""
