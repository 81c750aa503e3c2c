"""Stage 7: the as-played log in SQLite."""

from loa.log.store import (
    ALL,
    COLUMNS,
    EVENT_VI,
    KIND_VI,
    STATUS_VI,
    LogFilter,
    LogStore,
    PlayRow,
    kind_of,
    topic_of,
)

__all__ = ["ALL", "COLUMNS", "EVENT_VI", "KIND_VI", "STATUS_VI", "LogFilter",
           "LogStore", "PlayRow", "kind_of", "topic_of"]
