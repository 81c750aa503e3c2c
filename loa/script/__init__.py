"""Stage 2: bulletins drafted from plan topics, and the text the voice will read."""

from loa.script.bulletin import (
    Bulletin,
    BulletinFile,
    approve,
    drafts_from_plan,
    load_bulletins,
    new_bulletin_file,
)

__all__ = [
    "Bulletin",
    "BulletinFile",
    "approve",
    "drafts_from_plan",
    "load_bulletins",
    "new_bulletin_file",
]
