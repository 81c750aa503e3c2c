"""Plans into draft bulletins; bulletins listed, shown, edited, approved, retired."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loa.errors import LoaError

if TYPE_CHECKING:
    from loa.clock import Clock
    from loa.plan.content import Plan
    from loa.plan.repair import Repaired
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
class PlanRepair:
    source: Path
    output: Path
    repaired: Repaired  # the text written and its counts
    garbled_before: bool  # the quality guard's verdict on the file as it was
    garbled_after: bool


def repair_plan_text(path: str | Path, output: str | Path) -> PlanRepair:
    """Restore the diacritics of a garbled TXT plan into `output` (written atomically, its
    mode kept), never over `path` itself."""
    import codecs
    import os

    from loa.fsio import atomic_write_text, check_target
    from loa.plan.quality import assess
    from loa.plan.reader import read_plan_lines, time_limit
    from loa.plan.repair import restore

    path, output = Path(path), Path(output)
    if path.suffix.lower() not in (".txt", ".text", ""):
        raise LoaError("lệnh này chỉ sửa tệp văn bản (.txt). Với tệp .docx hoặc .pdf, hãy "
                       "chép chữ ra trước: loa plan text KẾ_HOẠCH > kế-hoạch.txt", path)
    read_plan_lines(path)  # the reader's checks and Vietnamese errors: missing, encoding, …
    same = os.path.realpath(path) == os.path.realpath(output)
    if not same:
        with contextlib.suppress(OSError):
            same = os.path.samefile(path, output)
    if same:
        raise LoaError("tệp ghi ra trùng với tệp kế hoạch gốc; loa không ghi đè bản gốc, hãy "
                       "chọn tên khác cho -o.", output)
    check_target(output)
    raw = path.read_bytes()
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = raw.decode("utf-16")  # read_plan_lines has checked it decodes
    else:
        text = raw.decode("utf-8-sig")
    with time_limit(path):  # a real plan takes well under a second
        repaired = restore(text)
    atomic_write_text(output, repaired.text)
    return PlanRepair(path, output, repaired, assess(text).garbled,
                      assess(repaired.text).garbled)


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
    with _locked(out):  # an edit or approval saved meanwhile is merged, not overwritten
        merge = merge_reimport(load_bulletins(out), fresh) if out.exists() else None
        fresh.save()
    return Drafted(plan, out, len(fresh.bulletins), merge)


@dataclass(frozen=True)
class BulletinView:
    """A bulletin as an officer sees it in a list."""

    id: str
    title: str
    status: str  # draft | pending | approved | returned | retired
    status_vi: str  # what an officer reads; "chờ duyệt lại" when an approval no longer holds
    approved_by: str | None
    seconds: float
    review: bool  # the plan changed under it
    edited_after_approval: bool
    airs: bool
    line: int | None
    review_note: str = ""  # why a leader sent it back
    returned_by: str = ""
    why_not: str | None = None  # approved but not airing: why (Vietnamese)
    versions: tuple[tuple[str, str], ...] = ()  # (language name, status_vi) per version


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
    return BulletinView(b.id, b.title, b.status, b.status_vi, b.approved_by,
                        b.estimated_seconds(cps), b.review, b.edited_after_approval,
                        b.is_approved, b.line, b.review_note, b.returned_by,
                        b.why_not_airable(),
                        tuple((v.name_vi, v.status_vi) for v in b.versions.values()))


@contextlib.contextmanager
def _locked(path: str | Path) -> Iterator[None]:
    """One writer at a time per bulletins file (console workers, the CLI): the read, the
    check and the save happen under an exclusive lock on the file itself (no lock file
    left beside it). A save replaces the file (atomic rename), so a lock taken on the
    replaced one is retried on the file now at that path."""
    import fcntl
    import os

    target = Path(path).resolve()  # a link and its file share one lock
    while True:
        try:
            fd = os.open(target, os.O_RDONLY)
        except OSError:  # missing or unreadable: the read itself will say so
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(target).st_ino == os.fstat(fd).st_ino
            except OSError:
                current = False
            if current:
                yield
                return
        finally:
            os.close(fd)  # releases the lock


def _now(clock: Clock | None):
    if clock is None:
        from loa.clock import SystemClock

        clock = SystemClock()
    return clock.now()


def os_account() -> tuple[str, str]:
    """(full name, "os:<login>") of the OS user running loa: GECOS's name, else the login."""
    import getpass
    import os
    import pwd

    try:
        entry = pwd.getpwuid(os.getuid())
        login, gecos = entry.pw_name, entry.pw_gecos
    except KeyError:  # a uid with no passwd entry (containers)
        try:
            login = getpass.getuser()
        except OSError:  # nor a login name in the environment
            login = f"uid{os.getuid()}"
        gecos = ""
    name = gecos.split(",")[0].strip()
    return name or login, f"os:{login}"


def open_bulletins(path: str | Path) -> BulletinFile:
    from loa.script.bulletin import load_bulletins

    return load_bulletins(path)


def list_bulletins(path: str | Path) -> BulletinList:
    bfile = open_bulletins(path)
    cps = bfile.chars_per_second
    return BulletinList(bfile.path, str(bfile.plan.get("title") or ""),
                        [_view(b, cps) for b in bfile.bulletins])


def show_bulletins(path: str | Path) -> tuple[BulletinFile, list[tuple[Bulletin, BulletinView]]]:
    """Every bulletin of a file with its view, from one read of the file."""
    bfile = open_bulletins(path)
    cps = bfile.chars_per_second
    return bfile, [(b, _view(b, cps)) for b in bfile.bulletins]


def show_bulletin(path: str | Path, bulletin_id: str) -> tuple[Bulletin, BulletinView]:
    bfile = open_bulletins(path)
    b = bfile.get(bulletin_id)
    return b, _view(b, bfile.chars_per_second)


def edit_bulletin(path: str | Path, bulletin_id: str, *, title: str | None = None,
                  text: str | None = None, expected: str | None = None) -> Bulletin:
    """Change a bulletin's title and/or words. An approved bulletin whose words change goes
    back to pending ("chờ duyệt lại") and does not air until approved again.

    expected: the bulletin's approval_hash() when the editor opened it; if it changed since
    (another officer, a hand edit), nothing is saved and LoaError says so."""
    with _locked(path):
        bfile = open_bulletins(path)
        b = bfile.get(bulletin_id)
        same = ((title is None or " ".join(title.split()) == b.title)
                and (text is None or " ".join(text.split()) == b.text))
        if expected is not None and expected != b.approval_hash() and same:
            return b  # these very words are saved already (a double click): nothing to do
        if expected is not None and expected != b.approval_hash():
            raise LoaError(f"bản tin “{b.title}” đã được sửa ở nơi khác sau khi bạn mở nó; "
                           "chưa lưu gì. Hãy tải lại trang, xem nội dung mới rồi sửa lại.",
                           bfile.path, b.line)
        if b.status == "retired":
            raise LoaError(f"bản tin “{b.title}” [{b.id}] đã ngừng phát, không sửa được.",
                           bfile.path, b.line)
        if b.status == "approved" and not b.approved_hash:
            # approved before hashes existed: what it approved is what it says now
            b.approved_hash = b.approval_hash()
        before = b.approval_hash()
        if title is not None:
            if not title.strip():
                raise LoaError(f"tiêu đề bản tin '{b.id}' không được để trống.", bfile.path,
                               b.line)
            b.title = " ".join(title.split())
        if text is not None:
            if not text.strip():
                raise LoaError(f"lời bản tin '{b.id}' không được để trống.", bfile.path,
                               b.line)
            b.text = " ".join(text.split())
        if b.status == "approved" and b.approval_hash() != before:
            b.status = "pending"  # un-airable until approved again
        bfile.save()
    return b


def submit_bulletins(path: str | Path, ids: list[str], by: str,
                     clock: Clock | None = None) -> list[Bulletin]:
    """An editor (full name `by`) sends bulletins for approval: status "chờ duyệt"."""
    from loa.script.bulletin import submit

    with _locked(path):
        bfile = open_bulletins(path)
        done = submit(bfile, ids, by, _now(clock))
        bfile.save()
    return done


def approve_bulletins(path: str | Path, ids: list[str], by: str | None = None,
                      clock: Clock | None = None, force: bool = False,
                      account: str | None = None, expected: dict[str, str] | None = None
                      ) -> list[Bulletin]:
    """Approve and save; records who (full name), the account ("web:<username>"; default
    the OS user, "os:<login>", whose full name is also the default `by`), when, and the
    hash of exactly what will air. expected: {id: approval_hash() the approver saw}; a
    bulletin changed since is refused (the approver must read what airs)."""
    from loa.script.bulletin import approve

    if account is None or not (by or "").strip():
        os_name, os_login = os_account()
        by = by if (by or "").strip() else os_name
        account = os_login if account is None else account
    with _locked(path):
        bfile = open_bulletins(path)
        for bid, seen in (expected or {}).items():
            b = bfile.get(bid)
            if b.approval_hash() != seen:
                raise LoaError(f"bản tin “{b.title}” đã được sửa sau khi bạn mở trang; chưa "
                               "duyệt. Hãy tải lại trang, đọc nội dung mới rồi duyệt.",
                               bfile.path, b.line)
        done = approve(bfile, ids, by, _now(clock), force=force, account=account)
        bfile.save()
    return done


def return_bulletin(path: str | Path, bulletin_id: str, by: str, note: str,
                    clock: Clock | None = None) -> Bulletin:
    """A leader (full name `by`) sends a bulletin back to its editor with a note."""
    from loa.script.bulletin import send_back

    with _locked(path):
        bfile = open_bulletins(path)
        done = send_back(bfile, bulletin_id, by, note, _now(clock))
        bfile.save()
    return done


def retire_bulletins(path: str | Path, ids: list[str]) -> list[Bulletin]:
    from loa.script.bulletin import retire

    with _locked(path):
        bfile = open_bulletins(path)
        done = retire(bfile, ids)
        bfile.save()
    return done


RECORDINGS_DIR = "ghi-am"  # beside the bulletins file: the officers' recordings


def _safe_name(bulletin_id: str) -> str:
    """A bulletin id as a file name: letters, digits, '.', '-', '_' (others become '-')."""
    import re
    import unicodedata

    plain = bulletin_id.replace("đ", "d").replace("Đ", "D")  # no decomposition of its own
    ascii_id = unicodedata.normalize("NFKD", plain).encode("ascii", "ignore").decode()
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_id).strip(".-")
    return name[:60] or "ban-tin"


def recordings_home(path: str | Path) -> Path:
    from loa.script.bulletin import recordings_home as home

    return home(path)


def _loa_recording(bfile: BulletinFile, audio: str) -> Path | None:
    """The file of `audio` if loa imported it (in ghi-am/ beside the bulletins file) and
    no entry of the file names it any more; else None (a file put by hand is never
    removed)."""
    if not audio or Path(audio).parent != Path(RECORDINGS_DIR):
        return None
    try:
        if audio in bfile.path.read_text(encoding="utf-8"):
            return None  # still in use (another bulletin, a language version)
    except OSError:
        return None
    return recordings_home(bfile.path) / audio


def record_bulletin(path: str | Path, bulletin_id: str, audio: str | Path | None, *,
                    remove: bool = False, expected: str | None = None) -> Bulletin:
    """The officer's recording as a bulletin's body, or (remove) back to its text.

    The recording is imported (loa.audio.recording: decoded, cleaned, a WAV) into ghi-am/
    beside the bulletins file under the bulletin's id and a short hash of its bytes, then
    `audio:` names it. An approved bulletin whose recording changes goes back to pending
    ("chờ duyệt lại"), as any edit. The old recording is removed only once the new one is
    in place and the file saved. expected: as edit_bulletin."""
    import os
    import uuid

    from loa.audio.recording import import_recording

    target = Path(path)
    if not remove and audio is None:
        raise LoaError("cần tệp ghi âm (hoặc --remove để bỏ tệp ghi âm).")
    if not remove:
        open_bulletins(target).get(bulletin_id)  # a wrong id is said before the import
    folder = recordings_home(target) / RECORDINGS_DIR
    fresh: Path | None = None
    tmp: Path | None = None
    existed = False  # the same recording imported before: never removed on failure
    if not remove:
        tmp = folder / f".{_safe_name(bulletin_id)}.{uuid.uuid4().hex[:8]}.part.wav"
        rec = import_recording(Path(audio), tmp)  # slow (ffmpeg): outside the lock
        fresh = folder / f"{_safe_name(bulletin_id)}-{rec.sha256[:10]}.wav"
    saved = False
    try:
        with _locked(target):
            # put in place under the lock: "was it there already" then holds until the
            # save (another import of the same recording may have placed it, and saved)
            if fresh is not None:
                existed = fresh.exists()
                os.replace(tmp, fresh)
            bfile = open_bulletins(target)
            b = bfile.get(bulletin_id)
            if expected is not None and expected != b.approval_hash():
                raise LoaError(f"bản tin “{b.title}” đã được sửa ở nơi khác sau khi bạn mở "
                               "nó; chưa lưu gì. Hãy tải lại trang rồi làm lại.",
                               bfile.path, b.line)
            if b.status == "retired":
                raise LoaError(f"bản tin “{b.title}” [{b.id}] đã ngừng phát, không sửa được.",
                               bfile.path, b.line)
            if remove and not b.audio:
                raise LoaError(f"bản tin “{b.title}” [{b.id}] không có tệp ghi âm để bỏ.",
                               bfile.path, b.line)
            if b.status == "approved" and not b.approved_hash:
                b.approved_hash = b.approval_hash()  # approved before hashes: as it is now
            before, old = b.approval_hash(), b.audio
            b.audio = "" if remove else f"{RECORDINGS_DIR}/{fresh.name}"
            if b.status == "approved" and b.approval_hash() != before:
                b.status = "pending"  # un-airable until approved again
            bfile.save()
            saved = True
            stale = _loa_recording(bfile, old) if old != b.audio else None
            if stale is not None:
                stale.unlink(missing_ok=True)
    finally:
        _drop_unsaved(target, tmp, fresh, saved, existed)
    return b


def _drop_unsaved(target: Path, tmp: Path | None, fresh: Path | None, saved: bool,
                  existed: bool) -> None:
    """After a failed save: the imported recording goes (never a stray file), unless it
    was there before or an entry names it (another import of the same bytes, saved)."""
    if tmp is not None:
        tmp.unlink(missing_ok=True)  # the lock or the read failed before it was placed
    if fresh is None or saved or existed:
        return
    with _locked(target):
        try:
            named = f"{RECORDINGS_DIR}/{fresh.name}" in target.read_text(encoding="utf-8")
        except OSError:
            named = True  # cannot tell: keep it
        if not named:
            fresh.unlink(missing_ok=True)


# --- language versions (issue 13: the languages residents speak) ------------------------

def set_bulletin_version(path: str | Path, bulletin_id: str, lang: str, *,
                         audio: str | Path | None = None, text: str | None = None,
                         remove: bool = False) -> tuple[Bulletin, object]:
    """Add, replace or remove a bulletin's version in another language: a translator's
    recording (imported by loa.audio.recording into ghi-am/ beside the bulletins file, as
    `loa bulletin record` does) or a text an installed engine speaks. Only that version
    needs approving again; a recording loa imported and no entry names any more is removed
    once the file is saved."""
    import os
    import uuid

    from loa.languages import lower_name
    from loa.script.bulletin import remove_version, set_version

    target = Path(path)
    if text is not None and not remove and not speaks(lang):
        raise LoaError(f"chưa có bộ đọc nào trên máy này đọc được {lower_name(lang)}; hãy nhờ "
                       "người dịch đọc và ghi âm, rồi thêm bằng --audio TỆP.")
    fresh: Path | None = None
    tmp: Path | None = None
    existed = False
    if audio is not None and not remove:
        from loa.audio.recording import import_recording
        from loa.script.bulletin import _language

        _language(lang)  # a wrong language is said before the import
        open_bulletins(target).get(bulletin_id)  # and a wrong id
        folder = recordings_home(target) / RECORDINGS_DIR
        stem = f"{_safe_name(bulletin_id)}-{lang}"
        tmp = folder / f".{stem}.{uuid.uuid4().hex[:8]}.part.wav"
        rec = import_recording(Path(audio), tmp)  # slow (ffmpeg): outside the lock
        fresh = folder / f"{stem}-{rec.sha256[:10]}.wav"
    saved = False
    try:
        with _locked(target):
            if fresh is not None:  # under the lock, as record_bulletin
                existed = fresh.exists()
                os.replace(tmp, fresh)
            bfile = open_bulletins(target)
            b = bfile.get(bulletin_id)
            old = b.versions[lang].audio if lang in b.versions else ""
            if remove:
                v = remove_version(bfile, bulletin_id, lang)
            else:
                name = f"{RECORDINGS_DIR}/{fresh.name}" if fresh is not None else ""
                v = set_version(bfile, bulletin_id, lang, audio=name, text=text or "")
            bfile.save()
            saved = True
            stale = _loa_recording(bfile, old) if old and old != v.audio or remove else None
            if stale is not None:
                stale.unlink(missing_ok=True)
    finally:
        _drop_unsaved(target, tmp, fresh, saved, existed)
    return bfile.get(bulletin_id), v


def speaks(lang: str) -> bool:
    """Does an engine installed here read `lang`? (No offline engine reads the minority
    languages of loa's table today: their versions are recordings.)"""
    return lang == "vi"


def approve_bulletin_versions(path: str | Path, ids: list[str], lang: str,
                              by: str | None = None, clock: Clock | None = None,
                              account: str | None = None) -> list:
    """Approve the `lang` version of each bulletin on its own hash (see approve_bulletins)."""
    from loa.script.bulletin import approve_version

    if account is None or not (by or "").strip():
        os_name, os_login = os_account()
        by = by if (by or "").strip() else os_name
        account = os_login if account is None else account
    with _locked(path):
        bfile = open_bulletins(path)
        done = approve_version(bfile, ids, lang, by, _now(clock), account=account)
        bfile.save()
    return done


def submit_bulletin_versions(path: str | Path, ids: list[str], lang: str, by: str,
                             clock: Clock | None = None) -> list:
    from loa.script.bulletin import submit_version

    with _locked(path):
        bfile = open_bulletins(path)
        done = submit_version(bfile, ids, lang, by, _now(clock))
        bfile.save()
    return done


def return_bulletin_version(path: str | Path, bulletin_id: str, lang: str, by: str,
                            note: str, clock: Clock | None = None):
    from loa.script.bulletin import send_back_version

    with _locked(path):
        bfile = open_bulletins(path)
        done = send_back_version(bfile, bulletin_id, lang, by, note, _now(clock))
        bfile.save()
    return done
