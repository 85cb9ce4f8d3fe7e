"""esctl: command-line administration for event stores (PostgreSQL and SQLite)."""

__version__ = "0.1.0"
