"""The whole job, as a new officer does it on a phone: plan -> draft -> listen -> submit ->
approve -> schedule -> aired by the real daemon -> logged -> downloaded.

One function, `walk`, used by tests/console/test_walk.py (which asserts on what it returns)
and by benchmarks/console.py (which times it). It drives a real `loa serve` (LiveConsole)
with Debian's Chromium at 390x844 while a real `loa run` on the same schedule and data
folder plays into the PulseAudio null sink. `WalkStation` starts all three outside pytest.

Pages still missing from the console (404, or the skeleton's placeholder: a page module
not merged yet) raise PageMissing, naming the page; a built page without what the job
needs fails."""

from __future__ import annotations

import hashlib
import io
import math
import subprocess
import time
import wave
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from helpers import loa_env, read_log, start_daemon, wait_for

from console.conftest import PHONE, ROLE_USERS, LiveConsole, copy_station, login, screenshot
from loa.clock import DEFAULT_TZ
from loa.settings import SAMPLE_PLANS

PLAN = SAMPLE_PLANS / "ha-noi-2026.txt"
VILLAGES = ("Toàn xã", "Thôn Văn Hòa")  # the sample station's two zones, by name
ZONES = ("toan-xa", "thon-van-hoa")
# short, so the walk waits for one clip of a few seconds, not a long reading
TEXT = ("Bà con chú ý: từ tháng Mười hai, Bộ phận Một cửa của xã nhận hồ sơ thủ tục "
        "hành chính trực tuyến, bà con không phải đến trụ sở.")
SESSION_NAME = "Buổi thử trang quản lý"
PROGRAM_NAME = "Tuyên truyền KSTTHC Hà Nội"
# the next whole minute at least this far ahead when the session is added: room to add the
# program and for the daemon to pick the change up and render the clip ahead
LEAD_S = 40


class PageMissing(Exception):
    """A page (or the control the walk needs on it) is not in this console yet."""


@dataclass
class WalkResult:
    title: str = ""                       # the bulletin's title, as drafted from the plan
    bulletin_id: str = ""
    drafts_file: Path | None = None
    audio_duration_s: float = math.nan    # <audio id="nghe-thu">.duration in the page
    wav_duration_s: float = math.nan      # the served WAV's frames / rate
    wav_in_clips: bool = False            # the served WAV is a clip file of the data folder
    session_at: datetime | None = None
    week_text: str = ""                   # Lịch tuần as shown once the session is saved
    played: list = field(default_factory=list)   # final log rows of the walk's bulletin
    logbook_text: str = ""                # Nhật ký's table, as shown
    xlsx_rows: list[tuple] = field(default_factory=list)  # rows naming the title
    xlsx_header: tuple = ()
    screenshots: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)  # step -> seconds at its end


# --- the station the walk runs on ---------------------------------------------------------

def prepare_station(folder: Path, now: datetime | None = None) -> Path:
    """The Ba Vì sample station copied to `folder`, read by espeak-ng only (no network on
    a test machine) and with its quiet hours moved away from `now` (the station's time), so
    that a session a minute ahead is allowed whenever the walk runs. Comments and keys stay as shipped."""
    path = copy_station(folder)
    text = path.read_text(encoding="utf-8")
    h = (now or datetime.now(DEFAULT_TZ)).hour
    # 40 quiet minutes clear of the sample's sessions (06:30, 17:00) and 2 h or more from now
    hour = next(c for c in (23, 2, 10, 13) if min((c - h) % 24, (h - c) % 24) >= 2)
    text = _replace_once(text, 'quiet_hours: "21:00-05:30"',
                         f'quiet_hours: "{hour:02d}:10-{hour:02d}:50"')
    text = _replace_once(text, "engines: [gtts, espeak]", "engines: [espeak]")
    path.write_text(text, encoding="utf-8")
    return path


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the sample schedule changed: {old!r} not found once"
    return text.replace(old, new)


class WalkStation:
    """A console, a daemon and a PulseAudio null sink on one prepared station, outside pytest
    (the benchmark): `with WalkStation(tmp, pulse) as ws: walk(browser, ws.live, ...)`."""

    def __init__(self, tmp: Path, pulse):
        self.tmp, self.pulse = tmp, pulse
        self.data = tmp / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.schedule = prepare_station(tmp / "schedules")
        self.live = LiveConsole(self.schedule, self.data, pulse.env)
        self.daemon: subprocess.Popen | None = None

    def __enter__(self) -> WalkStation:
        for role, (username, full) in ROLE_USERS.items():
            self.live.add_user(username, role, full_name=full)
        self.live.start()
        self.daemon = start_daemon(loa_env(self.data, self.pulse.env), self.schedule)
        return self

    def __exit__(self, *exc) -> None:
        stop_daemon(self.daemon)
        self.live.stop()


def stop_daemon(proc: subprocess.Popen | None) -> str:
    """Stop `loa run` (SIGTERM, as systemd does); its stderr, for a failing test's message."""
    if proc is None:
        return ""
    if proc.poll() is None:
        proc.terminate()
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err or ""


# --- the walk -------------------------------------------------------------------------------

def walk(browser, live: LiveConsole, shots: bool = True, play_timeout_s: float = 150) -> WalkResult:
    """Do the whole job through the console at `live` (a daemon must run on the same
    schedule and data folder). Returns what was seen; raises PageMissing or
    playwright's errors."""
    res = WalkResult()
    t0 = time.monotonic()
    contexts = []

    def phone():
        ctx = browser.new_context(viewport=PHONE, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh",
                                  accept_downloads=True)
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(20000)
        return page

    def shot(page, name: str) -> None:
        if shots:
            page.evaluate("window.scrollTo(0, 0)")  # else the sticky header lands mid-shot
            res.screenshots.append(screenshot(page, f"walk-{len(res.screenshots) + 1:02d}-{name}"))

    def step(name: str) -> None:
        res.steps[name] = round(time.monotonic() - t0, 2)

    try:
        editor = phone()
        login(editor, live, "editor")
        shot(editor, "tong-quan")
        _plan(editor, live, res, shot)
        step("plan")
        _edit_listen_submit(editor, live, res, shot)
        step("bulletin")

        leader = phone()
        login(leader, live, "leader")
        _approve(leader, live, res, shot)
        step("approve")

        _schedule(editor, live, res, shot)
        step("schedule")

        _wait_aired(live, res, play_timeout_s)
        step("aired")
        _logbook(editor, live, res, shot)
        step("logbook")
    finally:
        for ctx in contexts:
            ctx.close()
    res.seconds = round(time.monotonic() - t0, 2)
    return res


def _open(page, live: LiveConsole, path: str, name: str) -> None:
    resp = page.goto(live.url + path)
    if resp is None or resp.status == 404:
        raise PageMissing(f"{name} ({path}): 404")
    assert resp.status == 200, f"{name} ({path}): HTTP {resp.status}"


def _need(locator, what: str, timeout_ms: int = 5000):
    """`locator`'s first match once visible. If it never shows: PageMissing naming `what`
    when the page is still the skeleton's placeholder (a heading and nothing else), else
    an AssertionError (a built page lost what the job needs)."""
    first = locator.first
    try:
        first.wait_for(state="visible", timeout=timeout_ms)
    except Exception as exc:  # playwright's TimeoutError
        page = locator.page
        if page.locator("main > *").count() == 1 and page.locator("main > h1").count() == 1:
            raise PageMissing(what) from exc
        raise AssertionError(f"{what} (on {page.url})") from exc
    return first


def _click(page, text: str, what: str):
    """Click the button or link whose text is exactly `text`."""
    target = page.get_by_role("button", name=text, exact=True).or_(
        page.get_by_role("link", name=text, exact=True))
    _need(target, f"{what}: no '{text}'").click()


def _no_errors(page, what: str) -> None:
    # what the page shows: the recorder's message list waits hidden and empty on every
    # bulletin page
    errors = page.locator(".errors:visible, .errorlist:visible")
    if errors.count():
        raise AssertionError(f"{what}: the page says: {errors.first.inner_text()}")


def _plan(page, live, res: WalkResult, shot) -> None:
    """Kế hoạch: upload the Hà Nội plan, see its topics, Tạo bản nháp."""
    _open(page, live, "/ke-hoach/", "Kế hoạch")
    before = set((live.schedule.parent / "bulletins").glob("*.yaml"))
    upload = _need(page.locator("input[type=file]"), "Kế hoạch: no upload field")
    upload.set_input_files(str(PLAN))
    _click(page, "Tải lên", "Kế hoạch")
    page.wait_for_load_state()
    _no_errors(page, "Kế hoạch, upload")
    shot(page, "ke-hoach")
    _click(page, "Tạo bản nháp", "Kế hoạch")
    page.wait_for_load_state()
    _no_errors(page, "Kế hoạch, drafts")
    drafts = wait_for(lambda: set((live.schedule.parent / "bulletins").glob("*.yaml")) - before, 10)
    assert drafts, "Tạo bản nháp wrote no bulletins file under schedules/bulletins/"
    (res.drafts_file,) = set((live.schedule.parent / "bulletins").glob("*.yaml")) - before
    from loa.script import load_bulletins

    first = load_bulletins(res.drafts_file).bulletins[0]
    res.title, res.bulletin_id = first.title, first.key
    shot(page, "ban-nhap")


def _edit_listen_submit(page, live, res: WalkResult, shot) -> None:
    """Bản tin: open the first draft by its title, edit it, Lưu, Nghe thử, Gửi duyệt."""
    _open(page, live, "/ban-tin/", "Bản tin")
    link = _need(page.get_by_role("link", name=res.title, exact=True),
                 f"Bản tin: no link to the draft '{res.title}'")
    shot(page, "ban-tin")
    link.click()
    page.wait_for_load_state()
    text = _need(page.locator("#id_text"), "Bản tin: no #id_text editor")
    text.fill(TEXT)
    _click(page, "Lưu", "Bản tin")
    page.wait_for_load_state()
    _no_errors(page, "Bản tin, save")
    assert "Mười hai" in page.locator("#id_text").input_value(), "the edit was not kept"
    _click(page, "Nghe thử", "Bản tin")
    # the page's player has loaded a real WAV: its duration is known
    page.wait_for_function(
        """() => { const a = document.getElementById('nghe-thu');
                   return a && a.readyState >= 1 && isFinite(a.duration) && a.duration > 0; }""",
        timeout=60000)
    res.audio_duration_s = page.evaluate("document.getElementById('nghe-thu').duration")
    src = page.evaluate("document.getElementById('nghe-thu').currentSrc")
    wav = page.context.request.get(src)  # the same session's cookies
    assert wav.ok, f"Nghe thử: the WAV at {src} answered {wav.status}"
    body = wav.body()
    with wave.open(io.BytesIO(body)) as w:
        res.wav_duration_s = w.getnframes() / w.getframerate()
    digest = hashlib.sha256(body).digest()
    res.wav_in_clips = any(hashlib.sha256(p.read_bytes()).digest() == digest
                           for p in live.data.rglob("*.wav") if p.stat().st_size == len(body))
    shot(page, "nghe-thu")
    _click(page, "Gửi duyệt", "Bản tin")
    page.wait_for_load_state()
    _no_errors(page, "Bản tin, submit")
    shot(page, "gui-duyet")


def _approve(page, live, res: WalkResult, shot) -> None:
    """Duyệt: the leader finds the bulletin by its title in the queue and approves it."""
    _open(page, live, "/duyet/", "Duyệt")
    item = page.locator("form, article, li, tr, section, .card").filter(has_text=res.title).filter(
        has=page.get_by_role("button", name="Duyệt", exact=True))
    if not item.count():  # a queue that lists titles and opens each bulletin on its own page
        _need(page.get_by_role("link", name=res.title, exact=True),
              f"Duyệt: '{res.title}' is not in the queue").click()
        page.wait_for_load_state()
        item = page.locator("body")
    shot(page, "duyet")
    _need(item.last.get_by_role("button", name="Duyệt", exact=True), "Duyệt: no button").click()
    page.wait_for_load_state()
    _no_errors(page, "Duyệt")
    shot(page, "da-duyet")


def _check_labels(page, labels, what: str) -> None:
    for label in labels:
        _need(page.get_by_label(label, exact=True), f"{what}: no checkbox '{label}'").check()


def _fill_if_present(page, selector: str, value: str) -> None:
    box = page.locator(selector)
    if box.count() and box.first.is_visible() and box.first.is_editable():
        box.first.fill(value)


def _schedule(page, live, res: WalkResult, shot) -> None:
    """Lịch phát: Thêm buổi phát at the next whole minute for both villages, then a program
    airing the approved bulletin in it today."""
    _open(page, live, "/lich-phat/", "Lịch phát")
    shot(page, "lich-phat")
    _click(page, "Thêm buổi phát", "Lịch phát")
    page.wait_for_load_state()
    _need(page.locator("#id_time"), "Lịch phát: no #id_time on the session form")
    now = datetime.now(DEFAULT_TZ)
    at = (now + timedelta(seconds=LEAD_S + 60)).replace(second=0, microsecond=0)
    # a play of a few seconds from a whole minute ends on the day it starts: the program's
    # dates are that day even when the minute is 00:00 of the next
    res.session_at = at
    _fill_if_present(page, "#id_name", SESSION_NAME)  # the id is left to the console
    page.locator("#id_time").fill(at.strftime("%H:%M"))
    days = page.locator("input[type=checkbox][name=days]")
    if days.count() and not any(days.nth(i).is_checked() for i in range(days.count())):
        for i in range(days.count()):  # every day (today among them)
            days.nth(i).check()
    _check_labels(page, VILLAGES, "Thêm buổi phát")
    shot(page, "them-buoi-phat")
    _click(page, "Lưu", "Thêm buổi phát")
    page.wait_for_load_state()
    _no_errors(page, "Thêm buổi phát")

    _open(page, live, "/lich-phat/", "Lịch phát")
    _click(page, "Thêm chương trình", "Lịch phát")
    page.wait_for_load_state()
    _fill_if_present(page, "#id_name", PROGRAM_NAME)
    files = _need(page.locator("#id_bulletins"), "Thêm chương trình: no #id_bulletins")
    options = files.locator("option").all()
    stem = res.drafts_file.stem
    value = next((o.get_attribute("value") for o in options
                  if stem in (o.get_attribute("value") or "") or stem in o.inner_text()), None)
    assert value is not None, f"the drafts file {stem} is not offered for a program"
    files.select_option(value)
    page.wait_for_load_state()
    # sessions are offered as "name (time)"
    _need(page.locator("label", has_text=SESSION_NAME).locator("input[type=checkbox]"),
          f"Thêm chương trình: no checkbox for the session '{SESSION_NAME}'").check()
    _fill_if_present(page, "#id_from", at.date().isoformat())
    _fill_if_present(page, "#id_until", at.date().isoformat())
    _fill_if_present(page, "#id_per_session", "1")
    # long titles are shortened in the labels: the bulletin's checkbox by its value
    only = page.locator(f'input[type=checkbox][name=only][value="{res.bulletin_id}"]')
    if only.count():
        only.first.check()
    shot(page, "them-chuong-trinh")
    _click(page, "Lưu", "Thêm chương trình")
    page.wait_for_load_state()
    _no_errors(page, "Thêm chương trình")
    assert datetime.now(DEFAULT_TZ) < at - timedelta(seconds=5), (
        "the schedule was saved too late for the session (the machine is very slow)")
    _open(page, live, "/lich-phat/", "Lịch phát")
    shot(page, "lich-phat-sau")
    _click(page, "Lịch tuần", "Lịch phát")
    page.wait_for_load_state()
    res.week_text = page.locator("main").inner_text()
    shot(page, "lich-tuan")


def _wait_aired(live, res: WalkResult, timeout_s: float) -> None:
    """Until the daemon has logged a final row of the bulletin for each village."""
    def final_rows():
        rows = [r for r in read_log(live.data / "loa.sqlite3")[0]
                if r.title == res.title and r.status != "playing"]
        return rows if {r.zone for r in rows} >= set(ZONES) else None

    deadline = (res.session_at - datetime.now(res.session_at.tzinfo)).total_seconds() + timeout_s
    wait_for(final_rows, max(deadline, 5), poll=0.5)
    res.played = final_rows() or [r for r in read_log(live.data / "loa.sqlite3")[0]
                                  if r.title == res.title]


def _logbook(page, live, res: WalkResult, shot) -> None:
    """Nhật ký: the play shown by title and village names; Tải XLSX opened with openpyxl."""
    import openpyxl

    _open(page, live, "/nhat-ky/", "Nhật ký")
    table = _need(page.locator("table.list"), "Nhật ký: no table.list")
    res.logbook_text = table.inner_text()
    shot(page, "nhat-ky")
    link = page.get_by_role("link", name="Tải XLSX", exact=True).or_(
        page.get_by_role("button", name="Tải XLSX", exact=True))
    _need(link, "Nhật ký: no 'Tải XLSX'")
    with page.expect_download(timeout=60000) as dl:
        link.first.click()
    path = live.data / "walk-download.xlsx"
    dl.value.save_as(path)
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        for ws in wb.worksheets:
            rows = list(ws.iter_rows(values_only=True))
            hits = [r for r in rows if res.title in [str(c) for c in r if c is not None]]
            if hits:
                res.xlsx_header, res.xlsx_rows = rows[0], hits
                break
    finally:
        wb.close()
