"""Bulletins: what residents hear, drafted from plan topics, approved by an officer."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime
from pathlib import Path
from typing import Any

from loa.errors import LoaError, Problem
from loa.plan.content import Plan, Topic
from loa.yamlio import LineDict, LineList, line_of, load_yaml, write_yaml

STATUSES = ("draft", "approved", "retired")
STATUS_VI = {"draft": "bản nháp", "approved": "đã duyệt", "retired": "ngừng phát"}
# MucDoUuTien codes used by deployed smart-radio systems (see docs/domain notes).
PRIORITIES = {1: "khẩn cấp", 2: "ưu tiên", 3: "thông thường"}
# LinhVuc codes.
FIELDS = {
    1: "Thông tin chung",
    2: "Thông tin đột xuất",
    3: "Đường lối, chủ trương của Đảng, chính sách, pháp luật của Nhà nước",
    4: "Chỉ đạo, điều hành của cấp ủy, chính quyền cơ sở",
    5: "Kiến thức khoa học, kỹ thuật, kinh tế, văn hóa, xã hội",
    6: "Gương người tốt, việc tốt, điển hình tiên tiến",
}
# Characters per second of Vietnamese read aloud at normal speed (measured on espeak-ng
# and gTTS output, about 14-16 chars/s); used only for duration estimates.
CHARS_PER_SECOND = 15.0


@dataclass
class Bulletin:
    id: str
    title: str
    text: str
    plan: str = ""
    status: str = "draft"
    priority: int = 3
    field: int = 1
    approved_by: str | None = None
    approved_at: str | None = None  # ISO 8601 with offset
    source_line: int | None = None
    line: int | None = dc_field(default=None, compare=False)  # line in the bulletins file

    @property
    def key(self) -> str:
        """Stable across files: plan id + outline path."""
        return f"{self.plan}/{self.id}" if self.plan else self.id

    def estimated_seconds(self) -> float:
        return len(self.text) / CHARS_PER_SECOND

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "priority": self.priority,
            "field": self.field,
        }
        if self.approved_by:
            d["approved_by"] = self.approved_by
            d["approved_at"] = self.approved_at
        if self.source_line:
            d["source_line"] = self.source_line
        d["text"] = self.text
        return d


@dataclass
class BulletinFile:
    path: Path
    plan: dict[str, Any]
    bulletins: list[Bulletin]

    def get(self, bulletin_id: str) -> Bulletin:
        for b in self.bulletins:
            if b.id == bulletin_id or b.key == bulletin_id:
                return b
        known = ", ".join(b.id for b in self.bulletins[:20])
        raise LoaError(f"không có bản tin '{bulletin_id}' (có: {known}).", self.path)

    def save(self) -> None:
        data = {"plan": dict(self.plan), "bulletins": [b.to_dict() for b in self.bulletins]}
        header = (
            "# Bản tin soạn từ kế hoạch. Sửa 'title'/'text' nếu cần, rồi duyệt bằng:\n"
            "#   loa bulletin approve <tệp này> <mã bản tin> --by <tên người duyệt>\n"
        )
        write_yaml(self.path, data, header)


def guess_field(topic: Topic) -> int:
    """LinhVuc from keywords; the officer can correct it in the YAML."""
    text = (topic.heading + " " + topic.text).lower()
    if any(k in text for k in ("điển hình", "biểu dương", "gương", "sáng kiến")):
        return 6
    if any(k in text for k in ("chủ trương", "chính sách", "pháp luật", "nghị định", "luật")):
        return 3
    if any(k in text for k in ("công nghệ", "ứng dụng", "chuyển đổi số", "khoa học")):
        return 5
    if any(k in text for k in ("chỉ đạo", "điều hành")):
        return 4
    return 1


def draft_text(plan: Plan, topic: Topic) -> str:
    """A first draft in the station's voice; the officer rewrites it for residents."""
    body = topic.text.strip()
    if body and body[-1] not in ".!?…":
        body += "."
    issuer = plan.issuer or "Ủy ban nhân dân"
    intro = f"Thực hiện Kế hoạch {plan.title[:1].lower() + plan.title[1:]} của {issuer}"
    if not plan.title:
        intro = f"Thực hiện kế hoạch thông tin, tuyên truyền của {issuer}"
    return f"Kính thưa bà con! {intro}, xin thông tin tới bà con nội dung sau. {body} Xin cảm ơn bà con đã lắng nghe."


def drafts_from_plan(plan: Plan) -> list[Bulletin]:
    return [
        Bulletin(
            id=t.path,
            title=t.title,
            text=draft_text(plan, t),
            plan=plan.plan_id,
            field=guess_field(t),
            source_line=t.line,
        )
        for t in plan.topics
    ]


def new_bulletin_file(path: str | Path, plan: Plan) -> BulletinFile:
    meta = {
        "id": plan.plan_id,
        "title": plan.title,
        "issuer": plan.issuer,
        "year": plan.year,
        "source": plan.source.name,
        "section": plan.content.path,
    }
    return BulletinFile(Path(path), meta, drafts_from_plan(plan))


def _as_int(value: Any, allowed: dict[int, str], what: str, problems: list[Problem], path, line):
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = None
    if n not in allowed:
        choices = ", ".join(f"{k} = {v}" for k, v in allowed.items())
        problems.append(Problem(f"'{what}' phải là một trong: {choices}.", path, line))
        return None
    return n


def load_bulletins(path: str | Path) -> BulletinFile:
    """Read a bulletins YAML file; every problem is reported at once, with its line."""
    path = Path(path)
    data = load_yaml(path)
    problems: list[Problem] = []
    if not isinstance(data, LineDict) or not isinstance(data.get("bulletins"), LineList):
        raise LoaError("tệp bản tin phải có mục 'bulletins:' là một danh sách.", path, 1)
    plan = data.get("plan") or {}
    plan_id = str(plan.get("id", "")) if isinstance(plan, dict) else ""
    out: list[Bulletin] = []
    seen: set[str] = set()
    for i, item in enumerate(data["bulletins"]):
        line = line_of(data["bulletins"], i)
        if not isinstance(item, LineDict):
            problems.append(Problem("mỗi bản tin phải là một mục có 'id', 'title', 'text'.", path, line))
            continue
        missing = [k for k in ("id", "title", "text") if not str(item.get(k) or "").strip()]
        if missing:
            problems.append(Problem(f"bản tin thiếu {', '.join(missing)}.", path, line))
            continue
        bid = str(item["id"])
        if bid in seen:
            problems.append(Problem(f"mã bản tin '{bid}' bị trùng.", path, line_of(item, "id")))
        seen.add(bid)
        status = str(item.get("status", "draft"))
        if status not in STATUSES:
            problems.append(
                Problem(
                    f"trạng thái '{status}' không hợp lệ (dùng: {', '.join(STATUSES)}).",
                    path,
                    line_of(item, "status"),
                )
            )
            continue
        priority = _as_int(item.get("priority", 3), PRIORITIES, "priority", problems, path,
                           line_of(item, "priority"))
        fld = _as_int(item.get("field", 1), FIELDS, "field", problems, path, line_of(item, "field"))
        if priority is None or fld is None:
            continue
        out.append(
            Bulletin(
                id=bid,
                title=str(item["title"]).strip(),
                text=" ".join(str(item["text"]).split()),
                plan=plan_id,
                status=status,
                priority=priority,
                field=fld,
                approved_by=item.get("approved_by"),
                approved_at=str(item["approved_at"]) if item.get("approved_at") else None,
                source_line=item.get("source_line"),
                line=line,
            )
        )
    if problems:
        raise LoaError.many(problems)
    return BulletinFile(path, dict(plan) if isinstance(plan, dict) else {}, out)


def approve(bfile: BulletinFile, ids: list[str], by: str, now: datetime) -> list[Bulletin]:
    if not by.strip():
        raise LoaError("cần ghi tên người duyệt (--by).")
    changed = []
    for bid in ids:
        b = bfile.get(bid)
        if b.status == "retired":
            raise LoaError(f"bản tin '{b.id}' đã ngừng phát, không duyệt được.", bfile.path, b.line)
        b.status = "approved"
        b.approved_by = by.strip()
        b.approved_at = now.isoformat(timespec="seconds")
        changed.append(b)
    return changed
