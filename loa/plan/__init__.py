"""Stage 1: read a plan document and find the topics meant for broadcast."""

from loa.plan.content import Plan, Topic, find_content_section, import_plan
from loa.plan.outline import Node, parse_outline
from loa.plan.reader import read_plan_lines

__all__ = [
    "Node",
    "Plan",
    "Topic",
    "find_content_section",
    "import_plan",
    "parse_outline",
    "read_plan_lines",
]
