"""Helpers the tests share, kept out of conftest.py so a test imports them by what they are:

- `stores`: the stores under test (`Target`), the session's PostgreSQL server and throwaway schemas,
  application names for killing only a test's own connections;
- `processes`: esctl in-process (`run_cli`) and as a child process (`run_process`, `run_esctl`,
  `run_measured`), and the environment that points a child at a store;
- `data`: config files, event files, events written without esctl's append, stored events read back;
- `figures`: the reliability scenarios' measurements, printed at the end of a run;
- `replication`: a primary with a streaming standby.

conftest.py files hold only fixtures, built from these (and re-export the old names, so
`from tests.conftest import Target` keeps working)."""
