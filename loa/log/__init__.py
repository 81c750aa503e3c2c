"""Stage 7: the as-played log in SQLite."""

from loa.log.labels import (
    EVENT_VI,
    KIND_VI,
    STATUS_VI,
    Names,
    event_label,
    kind_label,
    outline_of,
    plan_of,
    status_code,
    status_label,
)
from loa.log.store import (
    ALL,
    COLUMNS,
    LogFilter,
    LogStore,
    PlayRow,
    kind_of,
    topic_of,
)

__all__ = ["ALL", "COLUMNS", "EVENT_VI", "KIND_VI", "STATUS_VI", "LogFilter", "LogStore",
           "Names", "PlayRow", "event_label", "kind_label", "kind_of", "outline_of", "plan_of",
           "status_code", "status_label", "topic_of"]
