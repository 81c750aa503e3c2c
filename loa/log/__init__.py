"""Stage 7: the as-played log in SQLite."""

from loa.log.store import STATUS_VI, LogStore, PlayRow

__all__ = ["STATUS_VI", "LogStore", "PlayRow"]
