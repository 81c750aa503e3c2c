"""Stage 1: read a plan document and find the topics meant for broadcast.

Names load on first use: loading bulletins needs only loa.plan.quality, not the plan
reader and outline parser (their regexes cost ~25 ms at every `loa` start)."""

import importlib

_EXPORTS = {
    "Node": "loa.plan.outline", "Plan": "loa.plan.content", "Topic": "loa.plan.content",
    "find_content_section": "loa.plan.content", "import_plan": "loa.plan.content",
    "parse_outline": "loa.plan.outline", "read_plan_lines": "loa.plan.reader",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'loa.plan' has no attribute {name!r}")
