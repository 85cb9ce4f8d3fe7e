"""The reliability and security suite (`pytest -m reliability`): races, crashes, lost connections,
hostile input, secrets and read-only safety, on real SQLite and PostgreSQL."""
