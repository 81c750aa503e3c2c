"""Plans into draft bulletins; bulletins listed, shown, edited, approved, retired."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loa.errors import LoaError

if TYPE_CHECKING:
    from loa.clock import Clock
    from loa.plan.content import Plan
    from loa.script.bulletin import Bulletin, BulletinFile, MergeReport


def read_plan(path: str | Path, section: str | None = None) -> Plan:
    """A plan document (.txt, .docx, .pdf) with its outline and broadcast topics."""
    from loa.plan import import_plan

    return import_plan(path, section=section)


def plan_text(path: str | Path) -> str:
    """The plan's text cleaned and reflowed, as the drafting reads it."""
    from loa.plan.outline import parse_outline, reflow
    from loa.plan.reader import read_plan_lines

    return reflow(parse_outline(read_plan_lines(path)))


@dataclass
class Drafted:
    plan: Plan
    path: Path
    count: int
    merge: MergeReport | None  # None: a new file; else what a re-import kept and changed


def draft_bulletins(plan: Plan, output: str | Path, template: str | Path | None = None,
                    station_name: str | None = None,
                    schedule: str | Path | None = None) -> Drafted:
    """Write (or merge into) a bulletins file of drafts, one per topic of the plan.

    With a schedule, its station's name and bulletin template are the defaults."""
    from loa.script.bulletin import load_bulletins, merge_reimport, new_bulletin_file
    from loa.script.draft import load_template

    out = Path(output)
    if schedule:
        from loa.station.core import load_station

        station = load_station(schedule).schedule.station
        template = template or station.template
        station_name = station_name or station.name
    fresh = new_bulletin_file(out, plan, load_template(template, station_name))
    merge = merge_reimport(load_bulletins(out), fresh) if out.exists() else None
    fresh.save()
    return Drafted(plan, out, len(fresh.bulletins), merge)


@dataclass(frozen=True)
class BulletinView:
    """A bulletin as an officer sees it in a list."""

    id: str
    title: str
    status: str  # draft | approved | retired
    status_vi: str  # what an officer reads; says when an approval no longer holds
    approved_by: str | None
    seconds: float
    review: bool  # the plan changed under it
    edited_after_approval: bool
    airs: bool
    line: int | None


@dataclass
class BulletinList:
    path: Path
    plan_title: str
    items: list[BulletinView]

    def counts(self) -> dict[str, int]:
        """{status label: how many}, in a fixed order, without zeros."""
        out: dict[str, int] = {}
        for b in self.items:
            out[b.status_vi] = out.get(b.status_vi, 0) + 1
        return out


def _view(b: Bulletin, cps: float) -> BulletinView:
    from loa.script.bulletin import EDITED_AFTER_APPROVAL_VI, STATUS_VI

    edited = b.edited_after_approval
    return BulletinView(b.id, b.title, b.status,
                        EDITED_AFTER_APPROVAL_VI if edited else STATUS_VI[b.status],
                        b.approved_by, b.estimated_seconds(cps), b.review, edited,
                        b.is_approved, b.line)


def open_bulletins(path: str | Path) -> BulletinFile:
    from loa.script.bulletin import load_bulletins

    return load_bulletins(path)


def list_bulletins(path: str | Path) -> BulletinList:
    bfile = open_bulletins(path)
    cps = bfile.chars_per_second
    return BulletinList(bfile.path, str(bfile.plan.get("title") or ""),
                        [_view(b, cps) for b in bfile.bulletins])


def show_bulletin(path: str | Path, bulletin_id: str) -> tuple[Bulletin, BulletinView]:
    bfile = open_bulletins(path)
    b = bfile.get(bulletin_id)
    return b, _view(b, bfile.chars_per_second)


def edit_bulletin(path: str | Path, bulletin_id: str, *, title: str | None = None,
                  text: str | None = None) -> Bulletin:
    """Change a bulletin's title and/or words. An approved bulletin whose words change
    stops airing until approved again (its approval names the words it vouched for)."""
    from loa.script.bulletin import content_hash

    bfile = open_bulletins(path)
    b = bfile.get(bulletin_id)
    if b.status == "approved" and not b.approved_hash:
        # approved before hashes existed: what it approved is what it says now
        b.approved_hash = content_hash(b.title, b.text)
    if title is not None:
        if not title.strip():
            raise LoaError(f"tiêu đề bản tin '{b.id}' không được để trống.", bfile.path, b.line)
        b.title = " ".join(title.split())
    if text is not None:
        if not text.strip():
            raise LoaError(f"lời bản tin '{b.id}' không được để trống.", bfile.path, b.line)
        b.text = " ".join(text.split())
    bfile.save()
    return b


def approve_bulletins(path: str | Path, ids: list[str], by: str, clock: Clock | None = None,
                      force: bool = False) -> list[Bulletin]:
    """Approve and save; records who, when, and the hash of the words approved."""
    from loa.script.bulletin import approve

    if clock is None:
        from loa.clock import SystemClock

        clock = SystemClock()
    bfile = open_bulletins(path)
    done = approve(bfile, ids, by, clock.now(), force=force)
    bfile.save()
    return done


def retire_bulletins(path: str | Path, ids: list[str]) -> list[Bulletin]:
    from loa.script.bulletin import retire

    bfile = open_bulletins(path)
    done = retire(bfile, ids)
    bfile.save()
    return done
