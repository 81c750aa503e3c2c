"""Editing a schedule file from a form (the console) without losing what officers wrote.

The YAML file stays the source of truth the CLI and the daemon read. An edit is made on a
round-trip document (ruamel.yaml keeps comments, blank lines and key order), checked by
loa's own strict loader after every operation (so the rules are `loa validate`'s, all
problems at once), and written by `save_schedule` under a lock, only over the version the
form was built from, atomically.

Ids are renamed only when nothing in the file uses the old id: the as-played log keeps
ids, so renaming a used zone or session would also cut its past plays off its name.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loa.errors import LoaError, Problem, excerpt

if TYPE_CHECKING:  # loa.station is on every command's path: the rest loads when used
    from loa.clock import Clock
    from loa.schema import Context, Schema

# Where each list's items keep their id (a holiday is known by its date).
ITEM_KEYS = {"zones": "id", "sessions": "id", "programs": "id", "announcements": "id",
             "holidays": "date"}
_WHAT_VI = {"station": "thông tin đài", "zones": "vùng", "sessions": "buổi phát",
            "programs": "chương trình", "announcements": "thông báo", "holidays": "ngày lễ"}
# Value kinds written as flow lists ([T2, T4]), as the sample schedule writes them.
_LIST_KINDS = ("refs", "choices", "texts")
# Kinds whose text the strict loader must read as a string, not a number: always quoted.
_QUOTED_KINDS = ("time", "time_span", "datetime")


def _date(value: Any) -> date | None:
    from loa.schema import parse_date

    return parse_date(value)


def version_of(data: bytes) -> str:
    """What a form carries to prove it was built from this file's content."""
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _schemas() -> dict[str, Schema]:
    from loa.schedule.schema import SECTIONS

    return SECTIONS


class ScheduleDraft:
    """A schedule file opened for editing: the round-trip document, the `version` it was
    read at, and plain views of each section as loa's loader reads them.

    Operations change the draft only when the result has no new problem; they raise
    LoaError (every problem at once, `Problem.key` naming the form field) otherwise."""

    def __init__(self, path: Path, data: bytes):
        self.path = path
        self.version = version_of(data)
        self.original = data.decode("utf-8-sig")
        self.raw, self.problems = _read(self.path, self.original, as_read=data)
        self._doc: Any = None  # the round-trip document, parsed when an edit needs it
        self._dumped = ""  # ruamel's rendering of the file as read
        self._field_problems: list[Problem] = []

    @property
    def doc(self) -> Any:
        """The round-trip document (ruamel.yaml), parsed on first use: showing a page
        needs only the plain views, which are much cheaper."""
        if self._doc is None:
            doc = None
            try:
                doc = self._ruamel().load(self.original)
            except Exception:  # noqa: BLE001 - ruamel's English never reaches an officer
                pass
            if doc is None or not hasattr(doc, "ca"):
                if self.problems and self.problems[0].line is not None:
                    raise LoaError.many(self.problems)  # loa's Vietnamese, with the line
                raise LoaError("tệp lịch phát không sửa được trên trang này (không phải một "
                               "bảng 'khóa: giá trị'); hãy sửa bằng tay.", self.path)
            self._doc, self._dumped = doc, self._dump(doc)
        return self._doc

    @doc.setter
    def doc(self, value: Any) -> None:
        self._doc = value

    def _ruamel(self):
        from ruamel.yaml import YAML

        if getattr(self, "_yaml", None) is None:
            indent, offset = _guess_indent(self.original)
            self._yaml = YAML()
            self._yaml.preserve_quotes = True
            self._yaml.width = 4096  # never fold an officer's long line
            self._yaml.indent(mapping=2, sequence=indent, offset=offset)
        return self._yaml

    # --- plain views ------------------------------------------------------------------------

    @property
    def station(self) -> dict[str, Any]:
        return _plain(self.raw.get("station") or {})

    def items(self, section: str) -> list[dict[str, Any]]:
        """The section's items as the loader reads them; each has its id (an announcement
        written without one gets the loader's "thong-bao-<line>")."""
        _check_section(section)
        out = []
        for _, item in self._entries(self.raw, section):
            plain = _plain(item)
            if section == "announcements" and plain.get("id") in (None, ""):
                plain["id"] = f"thong-bao-{getattr(item, 'line', 0)}"
            elif ITEM_KEYS[section] == "id":  # "" when the file has none (the loader says so)
                plain["id"] = "" if plain.get("id") is None else str(plain["id"])
            out.append(plain)
        return out

    @property
    def zones(self) -> list[dict[str, Any]]:
        return self.items("zones")

    @property
    def sessions(self) -> list[dict[str, Any]]:
        return self.items("sessions")

    @property
    def programs(self) -> list[dict[str, Any]]:
        return self.items("programs")

    @property
    def announcements(self) -> list[dict[str, Any]]:
        return self.items("announcements")

    @property
    def holidays(self) -> list[dict[str, Any]]:
        return self.items("holidays")

    @property
    def skip_dates(self) -> list[str]:
        raw = self.raw.get("skip_dates")
        items = [] if raw is None else raw if isinstance(raw, list) else [raw]
        return [str(d) for d in items]

    def item(self, section: str, item_id: str) -> dict[str, Any] | None:
        index = self._index(section, item_id)
        if index is None:
            return None
        return next(plain for (i, _), plain in zip(self._entries(self.raw, section),
                                                   self.items(section), strict=True)
                    if i == index)

    def text(self) -> str:
        """The file as it would be written now."""
        if self._doc is None:
            return self.original
        return _splice(self.original, self._dumped, self._dump(self._doc))

    # --- operations -------------------------------------------------------------------------

    def set_station(self, values: Mapping[str, Any]) -> None:
        """Set station fields from a form (strings/lists); a blank value removes the key
        (the default applies); keys not given stay as they are."""
        def change(doc):
            if doc.get("station") is None:
                _insert_top(doc, "station", _map())
            self._update(doc["station"], self.raw.get("station") or {}, _schemas()["station"],
                         values, "station")
        self._apply(change, ("station", None))

    def put(self, section: str, values: Mapping[str, Any], original_id: str | None = None
            ) -> str:
        """Add an item (original_id None) or change the item known as original_id; returns
        its id. Keys not given stay as they are; a blank value removes the key."""
        _check_section(section)
        schema, key = _schemas()[section], ITEM_KEYS[section]
        values = dict(values)
        if original_id is None and key == "id" and _blank(values.get("id")):
            values["id"] = self.new_id(section, values)
        if original_id is not None and key in values and _blank(values[key]):
            del values[key]  # a blank id on an edit keeps the id
        index = None
        if original_id is not None:
            index = self._index(section, original_id)
            if index is None:
                raise LoaError(f"không tìm thấy {_WHAT_VI[section]} '{excerpt(original_id)}' "
                               "(có thể vừa bị xóa ở nơi khác); tải lại trang.", self.path)
        if section == "holidays" and original_id is not None:
            original_id = _day_key(_norm(original_id))  # 30/04/2026 is 2026-04-30
        new_id = _norm(values.get(key)) if key in values else original_id
        if section == "holidays":
            new_id = _day_key(new_id)
        if index is not None and new_id not in (None, original_id):
            self._refuse_if_used(section, original_id, key, "đổi mã")
        if section == "holidays" and new_id is not None and new_id != original_id \
                and self._index(section, new_id) is not None:
            raise LoaError.many([Problem(f"Ngày: ngày lễ {_vi_day(new_id)} đã có.", key="date")])

        old = dict(self._entries(self.raw, section)).get(index, {}) if index is not None \
            else {}

        def change(doc):
            seq = doc.get(section)
            if seq is None:
                seq = _seq(flow=False)
                _insert_top(doc, section, seq)
            elif not hasattr(seq, "append"):  # one holiday written alone
                seq = doc[section] = _seq([seq], flow=False)
            if index is not None and isinstance(seq[index], dict):
                self._update(seq[index], old, schema, values, section)
                return
            item = _map()  # a new item, or a holiday written as a bare date
            self._update(item, old, schema, {**_plain(old), **values}, section)
            if index is None:
                seq.append(item)
            else:
                seq[index] = item
        focus = str(new_id) if new_id is not None else None
        self._apply(change, (section, focus))
        return focus or ""

    def delete(self, section: str, item_id: str) -> None:
        """Delete an item; a zone or session still used by another item is refused, naming
        what uses it."""
        _check_section(section)
        index = self._index(section, item_id)
        if index is None:
            raise LoaError(f"không tìm thấy {_WHAT_VI[section]} '{excerpt(item_id)}' (có thể "
                           "vừa bị xóa ở nơi khác); tải lại trang.", self.path)
        self._refuse_if_used(section, item_id, ITEM_KEYS[section], "xóa")

        def change(doc):
            _delete_at(doc[section], index)
        self._apply(change, None)

    def add_skip_date(self, day: str) -> None:
        """A day nothing plays (sessions and programs alike)."""
        parsed = _date(_norm(day))
        if parsed is None:
            raise LoaError.many([Problem(f"Ngày nghỉ: ngày '{excerpt(day)}' không hợp lệ "
                                         "(dạng 2026-09-02 hoặc 02/09/2026).",
                                         key="skip_dates")])
        days = [_date(d) for d in self.skip_dates]
        if parsed in days:
            raise LoaError.many([Problem(f"Ngày nghỉ: ngày {parsed:%d/%m/%Y} đã có.",
                                         key="skip_dates")])

        def change(doc):
            seq = doc.get("skip_dates")
            if seq is None:
                seq = _seq(flow=True)
                _insert_top(doc, "skip_dates", seq)
            elif not hasattr(seq, "append"):  # one date written alone
                seq = _seq([seq], flow=True)
                doc["skip_dates"] = seq
            at = sum(1 for d in days if d is not None and d < parsed)
            seq.insert(at, parsed)
        self._apply(change, None)

    def remove_skip_date(self, day: str) -> None:
        parsed = _date(_norm(day))
        days = [_date(d) for d in self.skip_dates]
        if parsed is None or parsed not in days:
            raise LoaError(f"không có ngày nghỉ '{excerpt(day)}' trong lịch; tải lại trang.",
                           self.path)

        def change(doc):
            if len(days) == 1:
                _delete_key(doc, "skip_dates")
            else:
                _delete_at(doc["skip_dates"], days.index(parsed))
        self._apply(change, None)

    def put_holiday(self, day: str, name: str = "", original_day: str | None = None) -> None:
        self.put("holidays", {"date": day, "name": name}, original_day)

    def remove_holiday(self, day: str) -> None:
        self.delete("holidays", _day_key(_norm(day)) or str(day))

    # --- inside -----------------------------------------------------------------------------

    def _dump(self, doc) -> str:
        import io

        out = io.StringIO()
        self._ruamel().dump(doc, out)
        return out.getvalue()

    @staticmethod
    def _entries(raw: Any, section: str) -> list[tuple[int, Any]]:
        """(position in the file's list, item) of each item the loader reads; a holiday
        may be a bare date, and one written alone."""
        value = raw.get(section) if isinstance(raw, dict) else None
        if value is None or (not isinstance(value, list) and section != "holidays"):
            return []
        out: list[tuple[int, Any]] = []
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(item, dict):
                out.append((i, item))
            elif section == "holidays" and _date(item) is not None:
                out.append((i, {"date": str(item)}))
        return out

    def _index(self, section: str, item_id: str) -> int | None:
        """The position in the file's list of the item known as item_id."""
        key = ITEM_KEYS[section]
        wanted = _day_key(item_id) if section == "holidays" else str(item_id)
        for (i, _), item in zip(self._entries(self.raw, section), self.items(section),
                                strict=True):
            have = item.get(key)
            have = _day_key(have) if section == "holidays" else None if have is None else \
                str(have)
            if have == wanted:
                return i
        return None

    def _users(self, section: str, item_id: str) -> list[str]:
        """What uses a zone or session, by name."""
        users = []
        if section == "zones":
            for s in self.sessions:
                if item_id in _as_list(s.get("zones")):
                    users.append(f"buổi phát “{s.get('name') or s['id']}”")
            for a in self.announcements:
                if item_id in _as_list(a.get("zones")):
                    users.append(f"thông báo “{a.get('title') or excerpt(a.get('text'), 40)}”")
        elif section == "sessions":
            for p in self.programs:
                if item_id in _as_list(p.get("sessions")):
                    users.append(f"chương trình “{p.get('name') or p['id']}”")
        return users

    def _refuse_if_used(self, section: str, item_id: str, key: str, action: str) -> None:
        users = self._users(section, item_id)
        if users:
            item = self.item(section, item_id) or {}
            name = item.get("name") or item_id
            raise LoaError.many([Problem(
                f"Không {action} được {_WHAT_VI[section]} “{name}”: {', '.join(users)} đang "
                f"dùng; hãy bỏ {_WHAT_VI[section]} này khỏi đó trước.", key=key)])

    def new_id(self, section: str, values: Mapping[str, Any]) -> str:
        """An id for a new item the officer did not name: from its name (an announcement:
        from its time), unique in the section. Officers see names; ids stay in the file."""
        from loa.schema import parse_datetime

        if section == "announcements":
            when = parse_datetime(_norm(values.get("at")), None)
            base = f"thong-bao-{when:%Y%m%d-%H%M}" if when else "thong-bao"
        else:
            base = _slug(values.get("name")) or {"zones": "vung", "sessions": "buoi",
                                                 "programs": "chuong-trinh"}[section]
        taken = {str(a.get("id")) for a in self.items(section)}
        n, candidate = 1, base
        while candidate in taken:
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    def _context(self) -> Context:
        from loa.clock import DEFAULT_TZ
        from loa.schema import Context

        ctx = Context(self.path, _timezone(self.station.get("timezone")) or DEFAULT_TZ)
        ctx.known["zones"] = {str(z.get("id")): z for z in self.zones}
        ctx.known["sessions"] = {str(s.get("id")): s for s in self.sessions}
        return ctx

    def _update(self, node, old_raw: Mapping, schema: Schema, values: Mapping[str, Any],
                section: str) -> None:
        """Write the form's values into one mapping of the (candidate) document: a value
        equal (as parsed) to what is written keeps its text; new keys go where the schema
        orders them. Each field's problem is kept for `_apply` to tell with the rest."""
        from loa.schema import validate

        form = {k: _form_value(schema, k, v) for k, v in values.items()}
        old = _plain(old_raw)
        merged = {k: v for k, v in {**old, **form}.items() if v is not None}
        ctx = self._context()
        ctx.owner = str(merged.get(ITEM_KEYS.get(section, "id"), ""))
        parsed, problems = validate(schema, merged, ctx)
        bad = {p.key for p in problems}
        self._field_problems += [_labelled(p, schema) for p in problems]
        before, _ = validate(schema, {k: v for k, v in old.items() if v is not None}, ctx)
        order = list(schema.fields)
        for k, v in form.items():
            if v is None:
                if k in node:
                    _delete_key(node, k)
                continue
            if k not in bad and k in node and k in old and before.get(k) == parsed.get(k) \
                    and _same_text(old[k], v, schema, k):
                continue  # unchanged: its text (quotes, "T2-T6", comment) stays
            # a bad value is written as given: the file's check then finds every other
            # problem too (a time in quiet hours beside an unknown village)
            value = _raw_node(v) if k in bad or k not in schema.fields else \
                _node(schema.fields[k], parsed[k], v)
            if k in node:
                node[k] = value
            else:
                later = [i for i, name in enumerate(node) if name in order and k in order
                         and order.index(name) > order.index(k)]
                node.insert(later[0] if later else len(node), k, value)

    def _apply(self, change: Callable[[Any], None], focus: tuple[str, str | None] | None
               ) -> None:
        import copy

        candidate = copy.deepcopy(self.doc)
        self._field_problems = []
        change(candidate)
        text = _splice(self.original, self._dumped, self._dump(candidate))
        raw, problems = _read(self.path, text)
        known = [p.message for p in self.problems]
        new = list(self._field_problems)
        fields = {p.key for p in new}
        for p in problems:
            if p.message in known:
                known.remove(p.message)
                continue
            p = _focused(p, raw, focus)
            if p.key is None or p.key not in fields:  # a bad field is told once
                new.append(p)
        if new:
            raise LoaError.many(new)
        self.doc, self.raw, self.problems = candidate, raw, problems


def open_schedule(path: str | Path) -> ScheduleDraft:
    """The schedule file opened for editing; LoaError (Vietnamese) if it cannot be read."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LoaError("không tìm thấy tệp lịch phát.", path) from None
    except OSError as exc:
        from loa.fsio import loa_error

        raise loa_error(exc, path) from None
    return ScheduleDraft(path, data)


def save_schedule(draft: ScheduleDraft, expected_version: str, clock: Clock | None = None
                  ) -> str:
    """Write the draft over its file if the file is still at `expected_version` (and the
    draft was opened from it); returns the new version. Refused (LoaError, nothing written)
    when someone else changed the file, or when `loa validate` finds a problem."""
    import fcntl

    from loa.fsio import atomic_write_text, loa_error, temp_path_beside
    from loa.station.core import validate as validate_station

    path = draft.path
    lock = path.with_name(f".{path.name}.lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise loa_error(exc, lock) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            current = path.read_bytes()
        except OSError as exc:
            raise loa_error(exc, path) from None
        if version_of(current) != expected_version:
            raise LoaError(_changed_message(path, draft, clock), path)
        ensure_version(draft, expected_version, clock)
        text = draft.text()
        if text.encode("utf-8") == current:
            return draft.version
        tmp = temp_path_beside(path)  # beside: relative bulletin files resolve the same
        try:
            tmp.write_text(text, encoding="utf-8")
            try:
                checked = validate_station(tmp, clock)
            except LoaError as exc:
                raise LoaError.many([_renamed(p, tmp, path) for p in exc.problems]) from None
            if checked.problems:
                raise LoaError.many([_renamed(p, tmp, path) for p in checked.problems])
        finally:
            tmp.unlink(missing_ok=True)
        atomic_write_text(path, text)  # keeps the file's mode
    finally:
        os.close(fd)  # releases the lock
    draft.original = text
    draft.version = version_of(text.encode("utf-8"))
    if draft._doc is not None:
        draft._dumped = draft._dump(draft._doc)
    return draft.version


def ensure_version(draft: ScheduleDraft, expected_version: str, clock: Clock | None = None
                   ) -> None:
    """Refuse (LoaError) a form built from another version of the file than the draft's:
    a view checks this before it applies the form to a freshly opened draft."""
    if draft.version != expected_version:
        raise LoaError(_changed_message(draft.path, draft, clock), draft.path)


def _changed_message(path: Path, draft: ScheduleDraft, clock: Clock | None) -> str:
    tz = clock.tz if clock is not None else _timezone(draft.station.get("timezone"))
    if tz is None:
        from loa.clock import DEFAULT_TZ

        tz = DEFAULT_TZ
    try:
        when = datetime.fromtimestamp(path.stat().st_mtime, tz)
        at = f"lúc {when:%H:%M} "
    except OSError:
        at = ""
    return (f"Lịch phát đã được sửa {at}bởi nơi khác (máy khác hoặc tay); tải lại trang để "
            "thấy bản mới rồi sửa lại. Chưa lưu gì.")


# --- reading and problems ------------------------------------------------------------------

def _read(path: Path, text: str, as_read: bytes | None = None) -> tuple[Any, list[Problem]]:
    """loa's own reading of `text` as if it were the file at `path` (written to a temp file
    beside it, so relative bulletin files resolve): (top mapping, problems).

    `as_read`: the file's bytes when `text` is the file itself; in a folder loa may not
    write (a page only looking), the file is then read in place, if it has not changed."""
    from loa.fsio import loa_error, temp_path_beside

    try:
        tmp = temp_path_beside(path)
        try:
            tmp.write_text(text, encoding="utf-8")
        except OSError as exc:  # a full disk: a page only looking still reads in place
            tmp.unlink(missing_ok=True)
            raise loa_error(exc, path) from None
    except LoaError:
        if as_read is None:
            raise
        top, problems = _load(path)
        try:
            unchanged = path.read_bytes() == as_read
        except OSError:
            unchanged = False
        if not unchanged:  # changed while read: this reading is of another version
            raise LoaError("tệp lịch phát vừa được sửa ở nơi khác; tải lại trang.",
                           path) from None
        return top, problems
    try:
        top, problems = _load(tmp)
    finally:
        tmp.unlink(missing_ok=True)
    return top, [_renamed(p, tmp, path) for p in problems]


def _load(path: Path) -> tuple[Any, list[Problem]]:
    from loa.schedule.load import read_schedule
    from loa.yamlio import load_yaml

    try:
        top = load_yaml(path)
        _, problems = read_schedule(path)
    except LoaError as exc:
        top, problems = {}, exc.problems
    return (top if isinstance(top, dict) else {}), problems


def _renamed(p: Problem, tmp: Path, path: Path) -> Problem:
    if p.path is not None and Path(p.path) == tmp:
        return Problem(p.message, path, p.line, p.unit, p.column, p.key)
    return p


def _labelled(p: Problem, schema: Schema) -> Problem:
    """A field's problem for a form: its label first, no file or line (it is not written)."""
    f = schema.fields.get(p.key or "")
    message = f"{f.label_vi}: {p.message}" if f is not None else p.message
    if f is not None and f"thiếu '{p.key}'" in p.message:  # the YAML key means nothing here
        message = f"{f.label_vi}: cần điền."
    elif f is not None and p.message.startswith(f"'{p.key}' rỗng"):  # no box ticked
        message = (f"{f.label_vi}: chưa chọn ngày nào nên buổi phát không bao giờ phát; "
                   "đánh dấu ít nhất một ngày.")
    return Problem(message, None, None, key=p.key)


def _focused(p: Problem, raw: Any, focus: tuple[str, str | None] | None) -> Problem:
    """A problem of the candidate on the edited item becomes that form field's problem."""
    if focus is None or p.line is None:
        return p
    section, item_id = focus
    if section == "station":
        items = [raw.get("station")]
    else:  # a new item may share its id with an old one: each is looked at
        key = ITEM_KEYS[section]
        items = [x for _, x in ScheduleDraft._entries(raw, section)
                 if (_day_key(x.get(key)) if section == "holidays" else str(x.get(key)))
                 == item_id]
    for item in items:
        lines = getattr(item, "key_lines", {})
        # a missing key has no line of its own: the item's line, but the field is p.key
        missing = p.key is not None and p.key not in lines and p.line == getattr(
            item, "line", None)
        key = p.key if lines.get(p.key) == p.line or missing else next(
            (k for k, line in lines.items() if line == p.line), None)
        if key is not None:
            message = p.message
            name = item.get("name")
            # names, not ids (except where the id itself is at fault)
            if item_id and key != "id" and isinstance(name, str) and name.strip():
                message = message.replace(f"'{item_id}'", f"“{name.strip()}”")
            return _labelled(Problem(message, key=key), _schemas()[section])
    return p


# --- form values to YAML -------------------------------------------------------------------

def _check_section(section: str) -> None:
    if section not in ITEM_KEYS:
        raise ValueError(f"unknown schedule section {section!r}")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _norm(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _as_list(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [] if value is None else [value]
    return [str(x) for x in items]


def _form_value(schema: Schema, key: str, value: Any) -> Any:
    """A form's string or list as the YAML data the loader would read; None: not written.
    An empty village or bulletin list means "all" (the key's default), as in the file."""
    f = schema.fields.get(key)
    kind = f.type.kind if f is not None else "text"
    if isinstance(value, tuple | list):
        items = [_norm(x) for x in value if not _blank(x)]
        if not items and kind in ("refs", "texts"):
            return None
        return items
    if kind == "bool" and isinstance(value, str):
        word = value.strip().lower()
        if word in ("", "false", "off", "0", "không"):
            return False
        if word in ("true", "on", "1", "có"):
            return True
    if isinstance(value, str):
        value = value.replace("\r\n", "\n").replace("\r", "\n")  # a browser's textarea
        if kind != "text":
            value = value.strip()
    if _blank(value):
        return None
    return value


def _same_text(old: Any, new: Any, schema: Schema, key: str) -> bool:
    """Equal values whose text differs in a way a reader sees (a name's spaces) are
    rewritten; "T2-T6" against the form's [T2, T3, T4, T5, T6] is the same."""
    kind = schema.fields[key].type.kind
    if kind in ("text", "id", "file"):
        return str(old) == str(new)
    return True


def _node(f, parsed: Any, given: Any) -> Any:
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    kind = f.type.kind
    if kind == "date":
        return parsed  # a date object: written bare, read back as the same text
    if kind in _QUOTED_KINDS:
        return DoubleQuotedScalarString(f.type.dump(parsed))
    if kind == "file":
        return _scalar(str(given))  # as the officer named it, relative to the schedule
    if kind in ("number", "integer", "bool"):
        return parsed
    dumped = f.type.dump_value(parsed)
    if isinstance(dumped, list):
        return _seq([_scalar(str(x)) for x in dumped], flow=kind in (*_LIST_KINDS, "weekdays"))
    if isinstance(dumped, str):
        return _scalar(dumped)
    return dumped


def _raw_node(value: Any) -> Any:
    if isinstance(value, list):
        return _seq([_raw_node(x) for x in value], flow=True)
    return _scalar(value) if isinstance(value, str) else value


def _scalar(text: str) -> Any:
    """Text the strict loader reads back as the same text: quoted when YAML 1.1 (what loa
    reads) would take it for a number, a date, true/false or nothing; a multi-line text
    as a block when that keeps it exactly."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString
    from yaml.nodes import ScalarNode
    from yaml.resolver import Resolver

    if "\n" in text:
        lines = text.split("\n")
        clean = (text[:1] not in (" ", "\t") and "\r" not in text and "\t" not in text
                 and all(line == line.rstrip() for line in lines)
                 and not text.endswith("\n\n") and text.strip())
        return LiteralScalarString(text) if clean else DoubleQuotedScalarString(text)
    if Resolver().resolve(ScalarNode, text, (True, False)) != "tag:yaml.org,2002:str":
        return DoubleQuotedScalarString(text)
    if text != text.strip() or not text:
        return DoubleQuotedScalarString(text)
    return text


def _map():
    from ruamel.yaml.comments import CommentedMap

    return CommentedMap()


def _seq(items: Iterable = (), flow: bool = True):
    from ruamel.yaml.comments import CommentedSeq

    seq = CommentedSeq(items)
    if flow:
        seq.fa.set_flow_style()
    else:
        seq.fa.set_block_style()
    return seq


def _insert_top(doc, key: str, value: Any) -> None:
    from loa.schedule.schema import TOP_KEYS

    later = [i for i, name in enumerate(doc) if name in TOP_KEYS
             and TOP_KEYS.index(name) > TOP_KEYS.index(key)]
    doc.insert(later[0] if later else len(doc), key, value)


# --- comments around what is deleted ------------------------------------------------------

def _tail(container, key) -> tuple[Any, Any]:
    """(container, key) holding the comment below `container[key]`: ruamel stores the
    comment and blank lines below an entry on its last scalar line."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    value = container[key]
    if isinstance(value, CommentedMap) and len(value):
        return _tail(value, list(value)[-1])
    if isinstance(value, CommentedSeq) and len(value) and not value.fa.flow_style():
        return _tail(value, len(value) - 1)
    return container, key


def _slot(container) -> int:
    from ruamel.yaml.comments import CommentedMap

    return 2 if isinstance(container, CommentedMap) else 0


def _move_tail(container, key, prev) -> None:
    """Keep the lines below a deleted entry (a blank line, the next section's comment):
    they move below the entry before it."""
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    holder, hkey = _tail(container, key)
    entry = holder.ca.items.get(hkey)
    token = entry[_slot(holder)] if entry and len(entry) > _slot(holder) else None
    if token is None or prev is None or "\n" not in token.value:
        return
    rest = token.value.split("\n", 1)[1]
    if not rest:
        return
    target, tkey = _tail(container, prev)
    slot = _slot(target)
    entry = target.ca.items.setdefault(tkey, [None, None, None, None])
    if entry[slot] is None:
        entry[slot] = CommentToken("\n" + rest, CommentMark(0), None)
    else:
        entry[slot].value += rest


def _delete_key(node, key) -> None:
    keys = list(node)
    i = keys.index(key)
    _move_tail(node, key, keys[i - 1] if i else None)
    del node[key]


def _delete_at(seq, index: int) -> None:
    _move_tail(seq, index, index - 1 if index else None)
    del seq[index]


# --- text: keep the officer's own lines --------------------------------------------------

def _splice(original: str, before: str, after: str) -> str:
    """ruamel's change (`before` -> `after`) applied to the file as written: lines ruamel
    would merely reformat (spacing, indentation) stay as the officer wrote them. When an
    edited line cannot be placed in the original, ruamel's whole text is used."""
    import difflib

    if before == original:
        return after
    o, b, a = (t.splitlines(keepends=True) for t in (original, before, after))
    anchor: dict[int, int] = {}  # line of `before` -> the same line in `original`
    for blk in difflib.SequenceMatcher(None, b, o, autojunk=False).get_matching_blocks():
        for k in range(blk.size):
            anchor[blk.a + k] = blk.b + k
    out: list[str] = []
    cursor = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, b, a,
                                                       autojunk=False).get_opcodes():
        if tag == "equal":
            mapped = [anchor[i] for i in range(i1, i2) if i in anchor]
            if mapped:
                out += o[cursor:mapped[-1] + 1]
                cursor = mapped[-1] + 1
            continue
        if tag == "insert":  # placed after the line above it, or before the line below
            if i1 and (i1 - 1) not in anchor:
                if i1 < len(b) and i1 not in anchor:
                    return after
                below = anchor[i1] if i1 < len(b) else len(o)
                out += o[cursor:below]
                cursor = below
            out += a[j1:j2]
            continue
        lines = [anchor.get(i) for i in range(i1, i2)]
        if None in lines or lines != list(range(lines[0], lines[0] + len(lines))) \
                or lines[0] < cursor:
            return after
        out += o[cursor:lines[0]] + a[j1:j2]
        cursor = lines[-1] + 1
    out += o[cursor:]
    spliced = "".join(out)
    return spliced if _same_data(spliced, after) else after


def _same_data(text: str, other: str) -> bool:
    """Whether two texts hold the same data (a spliced line may not fit its neighbours'
    indentation)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader) == yaml.load(other, Loader=loader)
    except yaml.YAMLError:
        return False


# --- small helpers -------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _timezone(name: Any):
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(name) if isinstance(name, str) and name else None
    except (ValueError, OSError, KeyError):
        return None


def _guess_indent(text: str) -> tuple[int, int]:
    """(sequence indent, dash offset) of the file's first block list under a key, so new
    items are written the way the file writes its lists ("  - id:" or "- id:")."""
    import re

    key_indent = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        dash = re.match(r"( *)-( +)\S", line)
        if dash and key_indent is not None:
            offset = max(0, len(dash.group(1)) - key_indent)
            return offset + 1 + len(dash.group(2)), offset
        key = re.match(r"( *)[^\s#-][^:#]*:\s*(#.*)?$", line)
        key_indent = len(key.group(1)) if key else None
    return 2, 0


def _slug(name: Any) -> str:
    """"Buổi trưa" -> "buoi-trua": an id from a Vietnamese name."""
    import re
    import unicodedata

    if not isinstance(name, str):
        return ""
    text = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:48].strip("-")


def _day_key(value: Any) -> str | None:
    day = _date(value) if not isinstance(value, date) else value
    return day.isoformat() if day is not None else (None if value is None else str(value))


def _vi_day(iso: str) -> str:
    day = _date(iso)
    return f"{day:%d/%m/%Y}" if day else iso
