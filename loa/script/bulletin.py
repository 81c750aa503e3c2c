"""Bulletins: what residents hear, drafted from plan topics, approved by an officer."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loa.errors import LoaError, Problem, excerpt
from loa.fsio import atomic_write_text
from loa.plan.quality import assess
from loa.schema import Boolean, Choice, Field, Invalid, Number, Schema, Text, Value
from loa.script.draft import (
    Template,
    clear_markers,
    compose,
    load_template,
    open_markers,
    source_hash,
)
from loa.yamlio import (
    Checker,
    LineDict,
    LineList,
    dump_yaml,
    line_of,
    load_yaml,
    write_yaml,
)

if TYPE_CHECKING:  # the plan reader loads only where a plan is read
    from loa.plan.content import Plan, Topic

# draft -> pending (an editor submits) -> approved | returned (with a note) ; -> retired
STATUSES = ("draft", "pending", "approved", "returned", "retired")
STATUS_VI = {"draft": "bản nháp", "pending": "chờ duyệt", "approved": "đã duyệt",
             "returned": "bị trả lại", "retired": "ngừng phát"}
# The bulletin's own voice (when set, it overrides the station's): same words as the station's.
VOICES_VI = {"north": "giọng Bắc", "central": "giọng Trung", "south": "giọng Nam"}
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
_PRIORITIES_VI = ", ".join(f"{k} = {v}" for k, v in PRIORITIES.items())
_FIELDS_VI = ", ".join(f"{k} = {v}" for k, v in FIELDS.items())
class Table(Value):
    """A table of its own (a bulletin's `versions:`), read key by key by the loader."""

    kind = "table"

    def parse(self, raw, key, ctx, report):
        if not isinstance(raw, dict):
            raise Invalid(f"'{key}' phải là một bảng theo mã ngôn ngữ, ví dụ "
                          "\"hmn: {audio: ghi-am/IV.1.a-hmn.wav}\".")
        return raw


# The bulletins file, key by key (defaults written here, once).
PLAN_SCHEMA = Schema("plan", [
    Field("id", Text(), "Mã kế hoạch"),
    Field("title", Text(), "Tên kế hoạch"),
    Field("issuer", Text(), "Cơ quan ban hành"),
    Field("number", Text(), "Số văn bản"),
    Field("year", Text(), "Năm"),
    Field("source", Text(), "Tệp kế hoạch gốc"),
    Field("section", Text(), "Mục nội dung"),
    # durations divide by it: 0, nan or inf would make every estimate meaningless
    Field("chars_per_second", Number(0, 1000, above=True), "Tốc độ đọc (ký tự/giây)",
          error_vi="'chars_per_second' phải là số ký tự đọc mỗi giây, lớn hơn 0"),
])
BULLETIN_SCHEMA = Schema("bản tin", [
    Field("id", Text(), "Mã bản tin", "theo mục của kế hoạch, ví dụ IV.1.a", required=True,
          error_vi="mã bản tin '{value}' phải là một chữ hoặc số."),
    Field("title", Text(), "Tiêu đề", required=True),
    Field("status", Choice(STATUS_VI), "Trạng thái", default="draft",
          error_vi="trạng thái '{value}' không hợp lệ (dùng: " + ", ".join(STATUSES) + ")."),
    Field("priority", Number(1, 3, integer=True), "Mức ưu tiên", default=3,
          error_vi="'priority' phải là một trong: " + _PRIORITIES_VI),
    Field("field", Number(1, 6, integer=True), "Lĩnh vực", default=1,
          error_vi="'field' phải là một trong: " + _FIELDS_VI),
    Field("duration", Text(), "Thời lượng ước tính", "tính lại khi lưu"),
    Field("approved_by", Text(), "Người duyệt"),
    Field("approved_at", Text(), "Lúc duyệt"),
    Field("approved_hash", Text(), "Dấu nội dung đã duyệt",
          "tiêu đề, lời đọc, tệp ghi âm và giọng đọc lúc duyệt"),
    Field("approved_account", Text(), "Tài khoản duyệt", "web:<tên đăng nhập> hoặc os:<tên máy>"),
    Field("submitted_by", Text(), "Người gửi duyệt"),
    Field("submitted_at", Text(), "Lúc gửi duyệt"),
    Field("returned_by", Text(), "Người trả lại"),
    Field("returned_at", Text(), "Lúc trả lại"),
    Field("review_note", Text(), "Lý do trả lại"),
    Field("source_line", Number(1, 10**9, integer=True), "Dòng trong kế hoạch",
          error_vi="'source_line' phải là số dòng (số nguyên dương)"),
    Field("source_hash", Text(), "Dấu nội dung kế hoạch"),
    Field("review", Boolean(), "Cần xem lại", default=False),
    Field("note", Text(), "Ghi chú"),
    Field("audio", Text(), "Tệp ghi âm", "tệp WAV cạnh tệp bản tin; có thì phát tệp này"),
    Field("voice", Choice(VOICES_VI), "Giọng đọc", "bỏ trống: giọng của đài",
          error_vi="'voice' (giọng đọc) phải là một trong: " + ", ".join(VOICES_VI) + "."),
    Field("speed", Number(0.5, 2.0), "Tốc độ đọc", "bỏ trống: tốc độ của đài",
          error_vi="'speed' (tốc độ đọc) phải từ 0.5 đến 2.0"),
    Field("versions", Table(), "Bản tiếng dân tộc",
          "theo mã ngôn ngữ (hmn, tyz …): mỗi bản một tệp ghi âm 'audio' hoặc lời 'text', "
          "duyệt riêng"),
    Field("text", Text(), "Lời đọc", required=True),
])
ITEM_KEYS = tuple(BULLETIN_SCHEMA.fields)
# One language version of a bulletin (not Vietnamese: that is the bulletin itself).
VERSION_SCHEMA = Schema("bản tiếng dân tộc", [
    Field("status", Choice({k: STATUS_VI[k] for k in STATUSES if k != "retired"}),
          "Trạng thái", default="draft",
          error_vi="trạng thái '{value}' không hợp lệ (dùng: draft, pending, approved, "
                   "returned)."),
    Field("audio", Text(), "Tệp ghi âm", "người dịch đọc; tệp WAV cạnh tệp bản tin"),
    Field("text", Text(), "Lời đọc", "khi máy có bộ đọc nói được ngôn ngữ này"),
    Field("approved_by", Text(), "Người duyệt"),
    Field("approved_at", Text(), "Lúc duyệt"),
    Field("approved_hash", Text(), "Dấu nội dung đã duyệt"),
    Field("approved_account", Text(), "Tài khoản duyệt"),
    Field("submitted_by", Text(), "Người gửi duyệt"),
    Field("submitted_at", Text(), "Lúc gửi duyệt"),
    Field("returned_by", Text(), "Người trả lại"),
    Field("returned_at", Text(), "Lúc trả lại"),
    Field("review_note", Text(), "Lý do trả lại"),
])
VERSION_KEYS = tuple(VERSION_SCHEMA.fields)
EDITED_AFTER_APPROVAL_VI = "chờ duyệt lại"  # the words: changed since approved


def content_hash(title: str, text: str) -> str:
    """What an approval vouches for: the title and the words read, as stored."""
    return hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()[:16]


# (path, inode, mtime_ns, ctime_ns, size) -> sha256: ctime too, since mtime can be set
# back by hand (touch -r) after the bytes were swapped; ctime cannot
_AUDIO_HASHES: dict[tuple[str, int, int, int, int], str] = {}


def _file_hash(path: Path) -> str | None:
    """sha256 of a file's bytes (remembered while it is unchanged); None if unreadable."""
    try:
        st = path.stat()
        key = (str(path), st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
        if key not in _AUDIO_HASHES:
            digest = hashlib.sha256()
            with path.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
            _AUDIO_HASHES[key] = digest.hexdigest()
        return _AUDIO_HASHES[key]
    except OSError:
        return None


def approval_hash(title: str, text: str, audio: Path | None = None, voice: str = "",
                  speed: float | None = None) -> str:
    """What an approval vouches for: exactly what will air. With no recorded audio and no
    voice of its own this is content_hash(title, text), so older approvals stay valid."""
    if audio is None and not voice and speed is None:
        return content_hash(title, text)
    parts = [title, text]
    if audio is not None:
        parts.append(f"audio:{_file_hash(audio) or 'missing:' + audio.name}")
    if voice:
        parts.append(f"voice:{voice}")
    if speed is not None:
        parts.append(f"speed:{float(speed)!r}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def recordings_home(path: str | Path) -> Path:
    """The folder `audio:` names are relative to: the bulletins file's own, links
    followed (reached through a link, its recordings stay where the schedule finds them)."""
    import os

    return Path(os.path.realpath(path)).parent


def check_audio_name(name: str) -> str | None:
    """Why an `audio:` name is refused (Vietnamese), or None: a file beside the bulletins
    file or below it, never an absolute path or one that climbs out."""
    p = Path(name)
    if not name.strip() or p.is_absolute() or ".." in p.parts or "\\" in name:
        return (f"'audio' phải là tên một tệp ghi âm nằm cạnh tệp bản tin (không có đường "
                f"dẫn tuyệt đối hay '..'): '{excerpt(name)}'.")
    return None


def version_hash(language: str, text: str, audio: Path | None) -> str:
    """What a language version's approval vouches for: its language, its words and its
    recording's bytes; the Vietnamese bulletin is not in it (editing one version makes
    only that version 'chờ duyệt lại')."""
    parts = [f"language:{language}", text]
    if audio is not None:
        parts.append(f"audio:{_file_hash(audio) or 'missing:' + audio.name}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@dataclass
class Version:
    """A bulletin in another language: a translator's recording (the usual case) or a
    text an installed engine speaks; approved on its own hash."""

    language: str  # ISO 639 code (loa.languages), never "vi"
    audio: str = ""  # a file named relative to the bulletins file
    text: str = ""
    status: str = "draft"
    approved_by: str = ""
    approved_at: str = ""
    approved_hash: str = ""
    approved_account: str = ""
    submitted_by: str = ""
    submitted_at: str = ""
    returned_by: str = ""
    returned_at: str = ""
    review_note: str = ""
    folder: Path | None = dc_field(default=None, compare=False, repr=False)

    @property
    def name_vi(self) -> str:
        from loa.languages import name_vi

        return name_vi(self.language)

    @property
    def label(self) -> str:
        """'tiếng Mông', for the middle of a sentence."""
        from loa.languages import lower_name

        return lower_name(self.language)

    @property
    def audio_path(self) -> Path | None:
        return (self.folder or Path(".")) / self.audio if self.audio else None

    @property
    def audio_missing(self) -> bool:
        path = self.audio_path
        return path is not None and not path.is_file()

    def approval_hash(self) -> str:
        return version_hash(self.language, self.text, self.audio_path)

    @property
    def edited_after_approval(self) -> bool:
        return (self.status in ("approved", "pending") and bool(self.approved_hash)
                and self.approved_hash != self.approval_hash())

    @property
    def is_approved(self) -> bool:
        """May air: approved (with a hash: a version has no older approvals), unchanged
        since, its recording present."""
        return (self.status == "approved" and bool(self.approved_hash)
                and not self.edited_after_approval and not self.audio_missing)

    @property
    def status_vi(self) -> str:
        if self.status == "approved" and self.audio_missing:
            return "thiếu tệp ghi âm"
        if self.edited_after_approval:
            return EDITED_AFTER_APPROVAL_VI
        return STATUS_VI[self.status]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"status": self.status}
        for key in VERSION_KEYS[1:]:
            if getattr(self, key):
                d[key] = getattr(self, key)
        return d


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
    approved_hash: str = ""  # content_hash at approval; "" in files approved before it existed
    source_line: int | None = None
    source_hash: str = ""  # of the plan topic's text: tells a revised plan from an old one
    review: bool = False  # the plan changed under an officer's edits: read again
    note: str = ""  # for the officer, Vietnamese
    approved_account: str = ""  # "web:<username>" (console) or "os:<login>" (CLI)
    submitted_by: str = ""
    submitted_at: str = ""
    returned_by: str = ""
    returned_at: str = ""
    review_note: str = ""  # the leader's reason for sending it back
    audio: str = ""  # recorded audio, a file named relative to the bulletins file
    voice: str = ""  # "" : the station's
    speed: float | None = None  # None: the station's
    versions: dict[str, Version] = dc_field(default_factory=dict)  # by language, not "vi"
    language: str = "vi"  # what airs: "vi", or the language of a version (see for_air)
    line: int | None = dc_field(default=None, compare=False)  # line in the bulletins file
    folder: Path | None = dc_field(default=None, compare=False, repr=False)  # of its file

    @property
    def audio_path(self) -> Path | None:
        if not self.audio:
            return None
        return (self.folder or Path(".")) / self.audio

    @property
    def audio_missing(self) -> bool:
        path = self.audio_path
        return path is not None and not path.is_file()

    def approval_hash(self) -> str:
        """The hash of what would air now (compare with approved_hash); for a version as
        it airs (see for_air), the version's own."""
        if self.language != "vi":
            return version_hash(self.language, self.text, self.audio_path)
        return approval_hash(self.title, self.text, self.audio_path, self.voice, self.speed)

    @property
    def edited_after_approval(self) -> bool:
        """Approved once, then what airs changed (title, text, recording, voice): the
        approval no longer covers it ("chờ duyệt lại"), whether the edit went through loa
        (status back to pending) or by hand (status still approved)."""
        if self.status == "approved" and not self.approved_hash and self.audio:
            return True  # approved before hashes, so before recordings: never its audio
        return (self.status in ("approved", "pending") and bool(self.approved_hash)
                and self.approved_hash != self.approval_hash())

    @property
    def is_approved(self) -> bool:
        """May air: approved, still exactly what was approved, its recording present."""
        return (self.status == "approved" and not self.edited_after_approval
                and not self.audio_missing)

    @property
    def status_vi(self) -> str:
        """What an officer reads: 'chờ duyệt lại' when an approval no longer holds."""
        if self.status == "approved" and self.audio_missing:
            return "thiếu tệp ghi âm"
        if self.edited_after_approval:
            return EDITED_AFTER_APPROVAL_VI
        return STATUS_VI[self.status]

    def why_not_airable(self) -> str | None:
        """Why an approved bulletin does not air (Vietnamese), None if it airs or was
        never approved."""
        if self.status == "approved" and self.audio_missing:
            return f"không tìm thấy tệp ghi âm '{self.audio}' cạnh tệp bản tin"
        if self.edited_after_approval:
            return ("đã sửa sau khi duyệt (tiêu đề, lời, tệp ghi âm hoặc giọng đọc), "
                    f"{EDITED_AFTER_APPROVAL_VI}")
        return None

    def for_air(self, language: str) -> Bulletin | None:
        """The bulletin as it airs in `language`: itself for "vi"; for another language
        its version (same key, title and priority: one bulletin in the log, one row per
        language) when that version is approved and intact, else None."""
        from dataclasses import replace

        if language == "vi":
            return self
        v = self.versions.get(language)
        if v is None or not v.is_approved or not v.audio:
            return None  # a text version waits for an engine that speaks its language
        # its approval travels with it: checked again at air (the file may change after)
        return replace(self, text=v.text, audio=v.audio, language=language, versions={},
                       voice="", speed=None, approved_hash=v.approved_hash)

    def why_no_version(self, language: str) -> str:
        """Why the `language` version does not air (Vietnamese), for the log."""
        from loa.languages import lower_name

        v = self.versions.get(language)
        if v is None:
            return f"chưa có bản {lower_name(language)}"
        if v.is_approved and not v.audio:
            return f"chưa có bộ đọc đọc được {lower_name(language)}"
        return f"bản {lower_name(language)} {v.status_vi}"

    @property
    def key(self) -> str:
        """Stable across files: plan id + outline path."""
        return f"{self.plan}/{self.id}" if self.plan else self.id

    def summary(self, limit: int = 200) -> str:
        """The opening of the text, whole words: what upward reports call the summary."""
        text = " ".join(self.text.split())
        if len(text) <= limit:
            return text
        cut = text[:limit].rsplit(" ", 1)[0]
        return cut.rstrip(",;:") + "…"

    def estimated_seconds(self, chars_per_second: float = CHARS_PER_SECOND) -> float:
        return len(self.text) / chars_per_second

    def to_dict(self, chars_per_second: float = CHARS_PER_SECOND) -> dict[str, Any]:
        secs = round(self.estimated_seconds(chars_per_second))
        d: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "priority": self.priority,
            "field": self.field,
            "duration": f"{secs // 60}:{secs % 60:02d}",  # estimate; recomputed on save
        }
        if self.approved_by:
            d["approved_by"] = self.approved_by
            d["approved_at"] = self.approved_at
            if self.approved_hash:
                d["approved_hash"] = self.approved_hash
            if self.approved_account:
                d["approved_account"] = self.approved_account
        for key in ("submitted_by", "submitted_at", "returned_by", "returned_at",
                    "review_note"):
            if getattr(self, key):
                d[key] = getattr(self, key)
        if self.source_line:
            d["source_line"] = self.source_line
        if self.source_hash:
            d["source_hash"] = self.source_hash
        if self.review:
            d["review"] = True
        if self.note:
            d["note"] = self.note
        if self.audio:
            d["audio"] = self.audio
        if self.voice:
            d["voice"] = self.voice
        if self.speed is not None:
            d["speed"] = self.speed
        if self.versions:
            d["versions"] = {lang: v.to_dict() for lang, v in self.versions.items()}
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

    @property
    def chars_per_second(self) -> float:
        try:
            return float(self.plan.get("chars_per_second") or CHARS_PER_SECOND)
        except (TypeError, ValueError):
            return CHARS_PER_SECOND

    def save(self) -> None:
        """Write the file. When only some bulletins changed (an edit, an approval), only
        their entries are rewritten: the officer's comments, blank lines and the other
        entries stay byte for byte. Anything else (a re-import) rewrites the file."""
        cps = self.chars_per_second
        data = {"plan": dict(self.plan),
                "bulletins": [b.to_dict(cps) for b in self.bulletins]}
        text = _patched(self.path, data)
        if text is not None:
            atomic_write_text(self.path, text)
            return
        header = (
            "# Bản tin soạn từ kế hoạch. Sửa 'title'/'text' nếu cần, rồi duyệt bằng:\n"
            "#   loa bulletin approve <tệp này> <mã bản tin>\n"
        )
        write_yaml(self.path, data, header)


def _patched(path: Path, data: dict[str, Any]) -> str | None:
    """The file's text with only the changed bulletin entries re-emitted, or None when
    that cannot be done safely (the caller then rewrites the whole file)."""
    try:
        old = load_bulletins(path)
        raw = load_yaml(path)
        text = path.read_text(encoding="utf-8")
    except (LoaError, OSError, UnicodeDecodeError):
        return None
    items = raw.get("bulletins") if isinstance(raw, LineDict) else None
    cps = old.chars_per_second
    if (not isinstance(items, LineList) or list(raw)[-1] != "bulletins"
            or dict(old.plan) != data["plan"] or len(items) != len(data["bulletins"])
            or [b.id for b in old.bulletins] != [d["id"] for d in data["bulletins"]]):
        return None
    lines = text.splitlines(keepends=True)
    starts = [n - 1 for n in items.item_lines] + [len(lines)]
    out = lines[:starts[0]]
    for i, (before, after) in enumerate(zip(old.bulletins, data["bulletins"], strict=True)):
        block = lines[starts[i]:starts[i + 1]]
        if before.to_dict(cps) == after:
            out += block
            continue
        dash = items.item_columns[i] - 3  # "- " precedes the entry's first key
        if dash < 0 or not block or block[0][dash:dash + 2] != "- " or block[0][:dash].strip():
            return None
        keep = len(block)  # comments and blank lines after the entry stay
        while keep > 1 and (not block[keep - 1].strip()
                            or block[keep - 1].lstrip().startswith("#")):
            keep -= 1
        fresh = dump_yaml([after]).splitlines(keepends=True)
        out += [" " * dash + line for line in fresh] + block[keep:]
    patched = "".join(out)
    return patched if _reads_as(path, patched, data) else None


def _reads_as(path: Path, text: str, data: dict[str, Any]) -> bool:
    """Does `text`, read as a bulletins file, hold exactly `data`?"""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / path.name
        probe.write_text(text, encoding="utf-8")
        try:
            again = load_bulletins(probe)
        except LoaError:
            return False
    cps = again.chars_per_second
    return (dict(again.plan) == data["plan"]
            and [b.to_dict(cps) for b in again.bulletins] == data["bulletins"])


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


def drafts_from_plan(plan: Plan, template: Template | None = None) -> list[Bulletin]:
    """One draft per topic; a topic too long for one bulletin becomes parts -p1, -p2 …"""
    tpl = template or load_template()
    out = []
    for t in plan.topics:
        texts = compose(plan, t, tpl)
        for i, text in enumerate(texts, start=1):
            suffix = f"-p{i}" if len(texts) > 1 else ""
            title = t.title + (f" (phần {i}/{len(texts)})" if suffix else "")
            out.append(Bulletin(id=t.path + suffix, title=title, text=text, plan=plan.plan_id,
                                field=guess_field(t), source_line=t.line,
                                source_hash=source_hash(t.text)))
    return out


def new_bulletin_file(path: str | Path, plan: Plan, template: Template | None = None
                      ) -> BulletinFile:
    meta = {
        "id": plan.plan_id,
        "title": plan.title,
        "issuer": plan.issuer,
        "number": plan.number,
        "year": plan.year,
        "source": plan.source.name,
        "section": plan.content.path,
        "chars_per_second": (template or load_template()).chars_per_second,
    }
    return BulletinFile(Path(path), meta, drafts_from_plan(plan, template))


@dataclass
class MergeReport:
    kept: list[str] = dc_field(default_factory=list)
    changed: list[str] = dc_field(default_factory=list)
    added: list[str] = dc_field(default_factory=list)
    retired: list[str] = dc_field(default_factory=list)


def merge_reimport(old: BulletinFile, fresh: BulletinFile) -> MergeReport:
    """Re-import of a revised plan: keep the officer's work where the topic is unchanged.

    Changed topics get the new draft, back in draft and flagged for review; topics the
    plan no longer has are retired, never deleted (the log still names them).
    """
    report = MergeReport()
    by_id = {b.id: b for b in old.bulletins}
    merged: list[Bulletin] = []
    for b in fresh.bulletins:
        prev = by_id.pop(b.id, None)
        if prev is None:
            report.added.append(b.id)
            merged.append(b)
        elif prev.source_hash == b.source_hash:
            report.kept.append(b.id)
            merged.append(prev)
        else:
            b.review = True
            b.note = ("Nội dung mục này trong kế hoạch đã thay đổi"
                      + (f" (trước đây đã duyệt bởi {prev.approved_by})" if prev.approved_by
                         else "") + "; hãy đọc lại rồi duyệt.")
            report.changed.append(b.id)
            merged.append(b)
    for prev in by_id.values():
        if prev.status != "retired":
            prev.status = "retired"
            prev.note = "Mục này không còn trong kế hoạch mới."
            report.retired.append(prev.id)
        merged.append(prev)
    fresh.bulletins = merged
    return report


def load_bulletins(path: str | Path) -> BulletinFile:
    """Read a bulletins YAML file; every problem is reported at once, with its line."""
    path = Path(path)
    data = load_yaml(path)
    if not isinstance(data, LineDict) or not isinstance(data.get("bulletins"), LineList):
        raise LoaError("tệp bản tin phải có mục 'bulletins:' là một danh sách.", path, 1)
    chk = Checker(path)
    plan = data.get("plan")
    if plan is not None and not isinstance(plan, LineDict):
        chk.add("'plan' phải là một bảng 'khóa: giá trị' (id, title, …).", data, "plan")
    plan = plan if isinstance(plan, LineDict) else {}
    plan_id = PLAN_SCHEMA.read(plan, chk)["id"] or ""
    out: list[Bulletin] = []
    seen: set[str] = set()
    items = data["bulletins"]
    for i, item in enumerate(items):
        if not isinstance(item, LineDict):
            chk.add("mỗi bản tin phải là một mục có 'id', 'title', 'text'.", items, i)
            continue
        before = len(chk.problems)
        bid = item.get("id")
        where = f"bản tin '{excerpt(bid)}'" if isinstance(bid, str | int) else "bản tin"
        b = BULLETIN_SCHEMA.read(item, chk, where=where).values
        bid = (b["id"] or "").strip()
        if bid and bid in seen:
            chk.add(f"mã bản tin '{excerpt(bid)}' bị trùng.", item, "id")
        seen.add(bid)
        audio = (b["audio"] or "").strip()
        if audio and check_audio_name(audio):
            chk.add(check_audio_name(audio), item, "audio")
        versions = _versions(item, b["versions"], chk, where, path)
        if len(chk.problems) > before:
            continue
        out.append(Bulletin(
            id=bid, title=b["title"].strip(), text=" ".join(b["text"].split()), plan=plan_id,
            status=b["status"], priority=b["priority"], field=b["field"],
            approved_by=b["approved_by"] or None, approved_at=b["approved_at"] or None,
            approved_hash=(b["approved_hash"] or "").strip(),
            source_line=b["source_line"], source_hash=b["source_hash"] or "",
            review=b["review"], note=b["note"] or "",
            approved_account=(b["approved_account"] or "").strip(),
            submitted_by=b["submitted_by"] or "", submitted_at=b["submitted_at"] or "",
            returned_by=b["returned_by"] or "", returned_at=b["returned_at"] or "",
            review_note=b["review_note"] or "", audio=audio, voice=b["voice"] or "",
            speed=b["speed"], versions=versions, line=line_of(items, i), folder=recordings_home(path)))
    if chk.problems:
        raise LoaError.many(chk.problems)
    return BulletinFile(path, dict(plan), out)


def _versions(item: LineDict, raw: Any, chk: Checker, where: str, path: Path
              ) -> dict[str, Version]:
    """A bulletin's `versions:`, each checked like the bulletin itself (file and line)."""
    from loa.languages import LANGUAGES, unknown_vi

    if not isinstance(raw, dict):
        return {}
    out: dict[str, Version] = {}
    for lang, entry in raw.items():
        if lang == "vi":
            chk.add(f"{where}: bản tiếng Việt là chính bản tin ('text'), không ghi trong "
                    "'versions'.", raw, lang)
            continue
        if not isinstance(lang, str) or lang not in LANGUAGES:
            chk.add(f"{where}: {unknown_vi(lang)}", raw, lang)
            continue
        label = f"{where}, bản {LANGUAGES[lang][0].lower()}{LANGUAGES[lang][1:]}"
        if not isinstance(entry, LineDict):
            chk.add(f"{label} phải là một bảng có 'audio' (tệp ghi âm) hoặc 'text'.", raw, lang)
            continue
        v = VERSION_SCHEMA.read(entry, chk, where=label).values
        audio = (v["audio"] or "").strip()
        text = " ".join((v["text"] or "").split())
        if audio and check_audio_name(audio):
            chk.add(check_audio_name(audio), entry, "audio")
        if bool(audio) == bool(text):
            chk.add(f"{label} cần đúng một trong hai: 'audio' (tệp ghi âm người dịch đọc) "
                    "hoặc 'text' (lời cho bộ đọc).", raw, lang)
            continue
        out[lang] = Version(
            lang, audio=audio, text=text, status=v["status"] or "draft",
            **{k: (v[k] or "").strip() for k in VERSION_KEYS[3:]}, folder=recordings_home(path))
    return out


def submit(bfile: BulletinFile, ids: list[str], by: str, now: datetime) -> list[Bulletin]:
    """An editor sends bulletins for approval: draft, returned, or changed since approved."""
    if not by.strip():
        raise LoaError("cần ghi tên người gửi duyệt.")
    chosen = [bfile.get(bid) for bid in ids]
    problems: list[Problem] = []
    for b in chosen:
        if b.status == "retired":
            problems.append(Problem(f"bản tin “{b.title}” [{b.id}] đã ngừng phát, không gửi "
                                    "duyệt được.", bfile.path, b.line))
        elif b.is_approved:
            problems.append(Problem(f"bản tin “{b.title}” [{b.id}] đã được duyệt, không cần "
                                    "gửi duyệt.", bfile.path, b.line))
    if problems:
        raise LoaError.many(problems)
    for b in chosen:
        b.status = "pending"
        b.submitted_by = by.strip()
        b.submitted_at = now.isoformat(timespec="seconds")
    return chosen


def marker_problem(what: str, text: str) -> str | None:
    """Why a text with [CẦN BỔ SUNG: …] or [KIỂM TRA: …] left cannot be approved (Vietnamese),
    quoting the first marker; None when the officer has dealt with them all."""
    found = open_markers(text)
    if not found:
        return None
    more = f" (và {len(found) - 1} dấu khác)" if len(found) > 1 else ""
    return (f"{what} còn dấu {found[0]}{more}: hãy bổ sung hoặc sửa lời theo dấu đó rồi xóa "
            "dấu, sau đó mới duyệt được.")


def approve(bfile: BulletinFile, ids: list[str], by: str, now: datetime,
            force: bool = False, account: str = "") -> list[Bulletin]:
    """Approve bulletins; garbled text (no diacritics, OCR damage) needs force=True.

    Records who (full name), the account ("web:<username>", "os:<login>"), when, and the
    hash of exactly what will air."""
    if not by.strip():
        raise LoaError("cần ghi tên người duyệt (--by).")
    chosen = [bfile.get(bid) for bid in ids]
    problems: list[Problem] = []
    for b in chosen:
        if b.status == "retired":
            problems.append(Problem(f"bản tin '{b.id}' đã ngừng phát, không duyệt được.",
                                    bfile.path, b.line))
            continue
        if b.audio_missing:
            problems.append(Problem(
                f"bản tin “{b.title}” [{b.id}]: không tìm thấy tệp ghi âm '{b.audio}' cạnh "
                "tệp bản tin; ghi âm lại hoặc bỏ 'audio' rồi duyệt.", bfile.path, b.line))
            continue
        unfinished = marker_problem(f"bản tin “{b.title}” [{b.id}]", b.text)
        if unfinished:  # not even with force: the marker itself would be read on air
            problems.append(Problem(unfinished, bfile.path, b.line))
        quality = assess(clear_markers(b.text))  # the markers' own words are no evidence
        if quality.garbled and not force:
            problems.append(Problem(
                f"bản tin '{b.id}' có vẻ bị lỗi chữ: {quality.describe()}. Giọng đọc sẽ đọc "
                "sai. Hãy sửa lời (gõ lại có dấu) rồi duyệt; nếu chắc chắn lời đã đúng, vẫn "
                "duyệt được (dòng lệnh: --force; trang Duyệt: đánh dấu “Lời đã đúng”).",
                bfile.path, b.line))
    if problems:
        raise LoaError.many(problems)
    for b in chosen:
        b.status = "approved"
        b.approved_by = by.strip()
        b.approved_at = now.isoformat(timespec="seconds")
        b.approved_hash = b.approval_hash()
        b.approved_account = account.strip()
        b.returned_by = b.returned_at = b.review_note = ""
        b.review = False
        b.note = ""
    return chosen


def send_back(bfile: BulletinFile, bulletin_id: str, by: str, note: str,
              now: datetime) -> Bulletin:
    """A leader returns a bulletin to its editor with the reason; it does not air."""
    b = bfile.get(bulletin_id)
    note = " ".join((note or "").split())
    if not note:
        raise LoaError(f"cần ghi lý do trả lại bản tin “{b.title}” để người biên tập biết "
                       "cần sửa gì.", bfile.path, b.line)
    if not by.strip():
        raise LoaError("cần ghi tên người trả lại.")
    if b.status not in ("pending", "approved"):
        raise LoaError(f"bản tin “{b.title}” [{b.id}] đang là {b.status_vi}: chỉ trả lại được "
                       "bản tin chờ duyệt hoặc đã duyệt.", bfile.path, b.line)
    b.status = "returned"
    b.returned_by = by.strip()
    b.returned_at = now.isoformat(timespec="seconds")
    b.review_note = note
    return b


def retire(bfile: BulletinFile, ids: list[str]) -> list[Bulletin]:
    chosen = [bfile.get(bid) for bid in ids]
    for b in chosen:
        b.status = "retired"
    return chosen


# --- language versions ------------------------------------------------------------------

def _language(lang: str) -> str:
    from loa.languages import LANGUAGES, unknown_vi

    if lang == "vi":
        raise LoaError("bản tiếng Việt là chính bản tin: sửa 'text' của bản tin hoặc ghi âm "
                       "bằng 'loa bulletin record'; 'version' dành cho tiếng dân tộc.")
    if lang not in LANGUAGES:
        raise LoaError(unknown_vi(lang))
    return lang


def version_of(bfile: BulletinFile, bulletin_id: str, lang: str) -> tuple[Bulletin, Version]:
    b = bfile.get(bulletin_id)
    v = b.versions.get(_language(lang))
    if v is None:
        from loa.languages import lower_name

        have = ", ".join(f"{x} ({y.name_vi})" for x, y in b.versions.items()) or "chưa có bản nào"
        raise LoaError(f"bản tin “{b.title}” [{b.id}] chưa có bản {lower_name(lang)} (có: "
                       f"{have}); thêm bằng: loa bulletin version {bfile.path.name} {b.id} "
                       f"{lang} --audio TỆP", bfile.path, b.line)
    return b, v


def set_version(bfile: BulletinFile, bulletin_id: str, lang: str, *, audio: str = "",
                text: str = "") -> Version:
    """Add or replace a language version (a recording's name beside the file, or a text).
    An approved version that changes needs approving again ('chờ duyệt lại'); the
    Vietnamese bulletin and the other versions keep their approvals."""
    b = bfile.get(bulletin_id)
    lang = _language(lang)
    text = " ".join((text or "").split())
    if bool(audio) == bool(text):
        raise LoaError("cần đúng một trong hai: tệp ghi âm (--audio) hoặc lời (--text).")
    if audio and check_audio_name(audio):
        raise LoaError(check_audio_name(audio), bfile.path, b.line)
    v = b.versions.get(lang)
    if v is None:
        v = b.versions[lang] = Version(lang, folder=recordings_home(bfile.path))
    v.audio, v.text = audio, text
    if v.status == "approved" and v.edited_after_approval:
        v.status = "pending"
    return v


def remove_version(bfile: BulletinFile, bulletin_id: str, lang: str) -> Version:
    """The version goes; zones in that language hear the Vietnamese one (logged so)."""
    b, v = version_of(bfile, bulletin_id, lang)
    del b.versions[v.language]
    return v


def approve_version(bfile: BulletinFile, ids: list[str], lang: str, by: str, now: datetime,
                    account: str = "") -> list[Version]:
    """Approve one language version of each bulletin, on the hash of exactly that version."""
    if not by.strip():
        raise LoaError("cần ghi tên người duyệt (--by).")
    chosen = [version_of(bfile, bid, lang) for bid in ids]
    problems: list[Problem] = []
    for b, v in chosen:
        if b.status == "retired":
            problems.append(Problem(f"bản tin '{b.id}' đã ngừng phát, không duyệt được.",
                                    bfile.path, b.line))
        elif v.audio_missing:
            problems.append(Problem(
                f"bản tin “{b.title}” [{b.id}], bản {v.label}: không tìm thấy tệp "
                f"ghi âm '{v.audio}' cạnh tệp bản tin.", bfile.path, b.line))
        elif marker_problem("", v.text or ""):
            problems.append(Problem(marker_problem(
                f"bản tin “{b.title}” [{b.id}], bản {v.label}", v.text), bfile.path, b.line))
    if problems:
        raise LoaError.many(problems)
    for _b, v in chosen:
        v.status = "approved"
        v.approved_by = by.strip()
        v.approved_at = now.isoformat(timespec="seconds")
        v.approved_hash = v.approval_hash()
        v.approved_account = account.strip()
        v.returned_by = v.returned_at = v.review_note = ""
    return [v for _b, v in chosen]


def submit_version(bfile: BulletinFile, ids: list[str], lang: str, by: str,
                   now: datetime) -> list[Version]:
    if not by.strip():
        raise LoaError("cần ghi tên người gửi duyệt.")
    chosen = [version_of(bfile, bid, lang) for bid in ids]
    for b, v in chosen:
        if v.is_approved:
            raise LoaError(f"bản tin “{b.title}” [{b.id}], bản {v.label} đã được "
                           "duyệt, không cần gửi duyệt.", bfile.path, b.line)
    for _b, v in chosen:
        v.status = "pending"
        v.submitted_by = by.strip()
        v.submitted_at = now.isoformat(timespec="seconds")
    return [v for _b, v in chosen]


def send_back_version(bfile: BulletinFile, bulletin_id: str, lang: str, by: str, note: str,
                      now: datetime) -> Version:
    b, v = version_of(bfile, bulletin_id, lang)
    note = " ".join((note or "").split())
    if not note:
        raise LoaError(f"cần ghi lý do trả lại bản {v.label} của bản tin "
                       f"“{b.title}”.", bfile.path, b.line)
    if not by.strip():
        raise LoaError("cần ghi tên người trả lại.")
    if v.status not in ("pending", "approved"):
        raise LoaError(f"bản {v.label} của bản tin “{b.title}” đang là "
                       f"{v.status_vi}: chỉ trả lại được bản chờ duyệt hoặc đã duyệt.",
                       bfile.path, b.line)
    v.status = "returned"
    v.returned_by = by.strip()
    v.returned_at = now.isoformat(timespec="seconds")
    v.review_note = note
    return v
