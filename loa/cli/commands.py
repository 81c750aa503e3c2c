"""One function per CLI command; each only calls the stages."""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

from loa import settings
from loa.clock import DEFAULT_TZ, SystemClock
from loa.errors import LoaError


def _out(text: str = "") -> None:
    print(text)


# --- plan ----------------------------------------------------------------------------------

def plan_import(args) -> int:
    from loa.plan import import_plan
    from loa.script.bulletin import load_bulletins, merge_reimport, new_bulletin_file
    from loa.script.draft import load_template

    plan = import_plan(args.plan, section=args.section)
    if args.json:
        _out(json.dumps(
            {"plan": plan.plan_id, "title": plan.title, "issuer": plan.issuer,
             "number": plan.number, "place_date": plan.place_date, "year": plan.year,
             "references": plan.references,
             "mentions_loudspeakers": plan.mentions_loudspeakers,
             "garbled": plan.quality.garbled if plan.quality else False,
             "section": plan.content.path,
             "topics": [{"id": t.path, "title": t.title, "line": t.line, "text": t.text}
                        for t in plan.topics]},
            ensure_ascii=False, indent=2))
    if plan.quality is not None and plan.quality.garbled:
        print(f"Cảnh báo: {plan.source}: chữ trong kế hoạch có vẻ bị lỗi (mất dấu hoặc nhận "
              f"dạng sai): {plan.quality.describe()}. Bản tin soạn ra cần được gõ lại trước "
              "khi duyệt.", file=sys.stderr)
    if args.output:
        out = Path(args.output)
        template, station_name = args.template, args.station
        if args.schedule:  # the station's own template and name
            from loa.schedule import load_schedule

            station = load_schedule(args.schedule).station
            template = template or station.template
            station_name = station_name or station.name
        fresh = new_bulletin_file(out, plan, load_template(template, station_name))
        report = merge_reimport(load_bulletins(out), fresh) if out.exists() else None
        fresh.save()
        if not args.json:
            if report is None:
                _out(f"Đã soạn {len(fresh.bulletins)} bản tin nháp từ {len(plan.topics)} nội "
                     f"dung của mục {plan.content.path} vào {out}.")
            else:
                _out(f"Đã cập nhật {out}: giữ nguyên {len(report.kept)}, nội dung thay đổi "
                     f"{len(report.changed)} (cần duyệt lại), thêm mới {len(report.added)}, "
                     f"ngừng phát {len(report.retired)}.")
                for bid in report.changed:
                    _out(f"  cần xem lại: {bid}")
            _out("Hãy đọc, sửa rồi duyệt: loa bulletin approve "
                 f"{out} <mã> --by <tên người duyệt>")
    elif not args.json:
        for t in plan.topics:
            _out(f"{t.path:10} {t.title}")
    return 0


def plan_text(args) -> int:
    from loa.plan.outline import parse_outline, reflow
    from loa.plan.reader import read_plan_lines

    _out(reflow(parse_outline(read_plan_lines(args.plan))))
    return 0


def plan_show(args) -> int:
    from loa.plan import import_plan

    plan = import_plan(args.plan, section=args.section)
    _out(f"{plan.title} — {plan.issuer or 'không rõ cơ quan ban hành'}")
    for node in plan.outline.walk():
        if node.kind == "root":
            continue
        depth = node.path.count(".")
        mark = "  ◀ NỘI DUNG PHÁT" if node is plan.content else ""
        text = node.text
        _out(f"{'  ' * depth}{node.path}  {text[:70]}{'…' if len(text) > 70 else ''}{mark}")
    return 0


# --- bulletins -------------------------------------------------------------------------------

def bulletin_list(args) -> int:
    from loa.script.bulletin import STATUS_VI, load_bulletins

    bfile = load_bulletins(args.file)
    for b in bfile.bulletins:
        who = f" ({b.approved_by})" if b.approved_by else ""
        flag = "  [CẦN XEM LẠI]" if b.review else ""
        secs = round(b.estimated_seconds(bfile.chars_per_second))
        _out(f"{b.id:10} {STATUS_VI[b.status]:10}{who:16} ~{secs // 60}:{secs % 60:02d}"
             f"  {b.title}{flag}")
    counts = {s: sum(b.status == s for b in bfile.bulletins) for s in STATUS_VI}
    _out("Tổng: " + ", ".join(f"{n} {STATUS_VI[s]}" for s, n in counts.items() if n))
    return 0


def bulletin_approve(args) -> int:
    from loa.script import approve, load_bulletins

    bfile = load_bulletins(args.file)
    done = approve(bfile, args.ids, args.by, SystemClock().now(), force=args.force)
    bfile.save()
    for b in done:
        _out(f"Đã duyệt {b.id}: {b.title}")
    return 0


def bulletin_retire(args) -> int:
    from loa.script.bulletin import load_bulletins, retire

    bfile = load_bulletins(args.file)
    for b in retire(bfile, args.ids):
        _out(f"Đã ngừng phát {b.id}: {b.title}")
    bfile.save()
    return 0


# --- text and voice ----------------------------------------------------------------------------

def normalize(args) -> int:
    from loa.script.normalize import Normalizer

    text = args.text if args.text is not None else sys.stdin.read()
    norm = Normalizer(variant=args.variant,
                      day_prefix=None if args.day_prefix == "none" else args.day_prefix,
                      lexicon_files=args.lexicon)
    if args.explain:
        spoken, changes = norm.explain(text)
        _out(spoken)
        for ch in changes:
            _out(f"  [{ch.rule}] {ch.original!r} → {ch.spoken!r}")
    else:
        _out(norm.normalize(text))
    return 0


def say(args) -> int:
    from loa.audio import AudioSettings, assemble, sentences, write_wav
    from loa.cli.wiring import chain_for, normalizer
    from loa.fsio import check_target
    from loa.voice.espeak import VOICES

    check_target(args.output)  # before the voice works for nothing
    chain = chain_for(None, engines=tuple(args.engine) if args.engine else None)
    for engine in chain.engines:
        if engine.name == "espeak":
            engine.voice = VOICES[args.voice]
    spoken = normalizer(args.voice)(args.text)
    batch = chain.synthesize_all([sentences(spoken)])
    audio = AudioSettings(chime=not args.no_chime)
    samples = assemble(batch.speeches[0], audio)
    voice = getattr(batch.engine, "voice", "")
    write_wav(args.output, samples, audio.rate, comment=f"loa engine={batch.engine.name} voice={voice}")
    for failure in batch.failures:
        _out(f"Không dùng được {failure.engine} ({failure.kind}); chuyển sang bộ đọc dự phòng.")
    _out(f"Đã ghi {args.output} ({len(samples) / audio.rate:.1f} giây, bộ đọc "
         f"{batch.engine.name}, giọng {voice}).")
    return 0


# --- schedule --------------------------------------------------------------------------------

def _load(path: str):
    from loa.schedule import load_program_bulletins, load_schedule

    schedule = load_schedule(path)
    return schedule, load_program_bulletins(schedule)


def validate(args) -> int:
    from loa.schedule import check_limits

    schedule, bulletins = _load(args.schedule)
    problems = check_limits(schedule, bulletins)
    total = sum(len(v) for v in bulletins.values())
    if problems:
        for p in problems:
            print(f"Lỗi: {args.schedule}: {p}", file=sys.stderr)
        return 2
    _out(f"Lịch phát hợp lệ: {schedule.station.name}, {len(schedule.zones)} vùng, "
         f"{len(schedule.sessions)} buổi, {len(schedule.programs)} chương trình, "
         f"{total} bản tin đã duyệt.")
    return 0


def _occurrence_line(schedule, occ) -> str:
    """'T2 07/12/2026 17:00  Buổi chiều — Toàn xã, Thôn 1': names, never ids."""
    from loa.schedule.model import WEEKDAYS_VI

    zones = ", ".join(schedule.zones[z].name if z in schedule.zones else z for z in occ.zones)
    # a one-off announcement is an occurrence of no session ("thong-bao:<id>")
    session = schedule.sessions.get(occ.session)
    name = session.name if session else "Thông báo"
    return f"{WEEKDAYS_VI[occ.at.weekday()]} {occ.at:%d/%m/%Y %H:%M}  {name} — {zones}"


def next_(args) -> int:
    from loa.schedule import expand

    schedule, bulletins = _load(args.schedule)
    now = datetime.now(schedule.station.tz)
    occs = expand(schedule, bulletins, now, now + timedelta(days=args.days))
    if not occs:
        _out(f"Không có gì để phát trong {args.days} ngày tới.")
    for occ in occs:
        _out(f"{_occurrence_line(schedule, occ)} (~{occ.estimated_seconds() / 60:.1f} phút)")
        for item in occ.items:
            _out(f"    {item.bulletin.id:10} {item.bulletin.title}")
    return 0


def _next_line(schedule, occ) -> str:
    if occ is None:
        return "Không còn buổi phát nào trong 36 giờ tới."
    return f"Buổi phát tiếp theo: {_occurrence_line(schedule, occ)}."


def run_daemon(schedule_path, sink_kind: str, wav_dir: Path | None,
               until: datetime | None, until_idle: bool, report=_out, trust_sync: bool = True,
               fast: bool = False):
    """Start the daemon and block; shared by `loa run` and `loa demo`. fast: the WAV sink
    does not keep real time (tests only)."""
    from loa.player.control import DaemonLock

    # One daemon per data folder, held for its whole life: taken before anything opens the
    # log, so a second one refuses without touching it (no recovery, no event).
    with DaemonLock(settings.data_dir()):
        return _run_daemon(schedule_path, sink_kind, wav_dir, until, until_idle, report,
                           trust_sync, fast)


def _played_line(schedule, played) -> str:
    """'10:29:00  Thôn Đoài, Thôn Đông — «Tiêm phòng» — đã phát': names, never ids."""
    from loa.log import STATUS_VI

    at = played.at.astimezone(schedule.station.tz)
    status = STATUS_VI.get(played.status, played.status)
    why = f" ({played.reason})" if played.reason else ""
    return (f"{at:%H:%M:%S}  {', '.join(played.zone_names)} — «{_shown(played.bulletin.title)}» "
            f"— {status}{why}")


def _run_daemon(schedule_path, sink_kind, wav_dir, until, until_idle, report, trust_sync,
                fast=False):
    from loa.cli.wiring import ChildRendering, relays_for, sink_factory
    from loa.log.journal import JournaledLogStore
    from loa.player import Daemon, Player
    from loa.player.trust import ClockTrust, system_time_synced

    schedule, _ = _load(schedule_path)
    station = schedule.station
    clock = SystemClock(station.tz)
    store = JournaledLogStore(settings.db_path(), clock=clock)  # a failed write never stops a play
    sink_for, note = sink_factory(sink_kind, wav_dir, clock, fast)
    report(note)
    clips = ChildRendering(schedule_path, station)
    trust = ClockTrust(store, clock, system_time_synced if trust_sync else (lambda: None))
    player = Player(store, clock, sink_for, clips.at_air, schedule.zones, relays_for(station, clock),
                    station.pre_roll, station.post_roll, trust)
    started = threading.Event()  # the next play is told once the start lines are out

    def on_next(occ):
        if started.is_set():
            report(_next_line(daemon.schedule, occ))

    daemon = Daemon(lambda: _load(schedule_path), player, clock, store, prepare=clips.ahead,
                    control_dir=settings.control_dir(), trust=trust,
                    on_play=lambda p: report(_played_line(daemon.schedule, p)), on_next=on_next)

    def on_signal(signum, frame):
        daemon.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda s, f: daemon.request_reload())
    try:
        upcoming = daemon.start()
        pending = daemon.pending()
        problem = trust.problem()
        if problem:
            report(f"Chưa phát: {problem}. loa sẽ tự phát khi đồng hồ đúng.")
        report(f"Đang chạy lịch {schedule.path.name}: {len(pending)} buổi phát trong 36 giờ tới.")
        if pending:
            report(_next_line(daemon.schedule, daemon.next_play()))
        started.set()
        daemon.wait(until=until, until_idle=until_idle)
    finally:
        daemon.shutdown()
        for s, h in previous.items():
            signal.signal(s, h)
        store.close()
    return upcoming


def run(args) -> int:
    schedule, _ = _load(args.schedule)
    until = (datetime.now(schedule.station.tz) + timedelta(seconds=args.run_for)
             if args.run_for else None)
    run_daemon(args.schedule, args.sink, Path(args.wav_dir) if args.wav_dir else None,
               until, args.until_idle, trust_sync=not args.no_time_sync,
               fast=getattr(args, "fast", False))
    _out("Đã dừng phát tự động.")
    return 0


def now(args) -> int:
    """Hand an emergency bulletin to the running daemon and wait until it has recorded it
    in the log (then it interrupts and plays it), or refused it."""
    from loa.player import control as ctl
    from loa.script.bulletin import load_bulletins

    if not 0 < args.timeout <= 600:
        raise LoaError("--timeout phải lớn hơn 0 và không quá 600 giây.")
    target = ctl.emergency_target(settings.data_dir(), args.zones)

    def words(text: str | None) -> str | None:
        # a terminal in another encoding hands over bytes that are not UTF-8
        return None if text is None else text.encode("utf-8", "surrogateescape").decode(
            "utf-8", "replace")

    args.what, args.title = words(args.what), words(args.title)
    if args.bulletins:
        bfile = load_bulletins(args.bulletins)
        b = bfile.get(args.what)
        if b.status != "approved" and not args.force:
            raise LoaError(f"bản tin '{b.id}' chưa được duyệt (thêm --force nếu chỉ huy đã "
                           "cho phép phát ngay).", bfile.path, b.line)
        title, text, plan = b.title, b.text, b.plan
    else:
        title, text, plan = args.title or args.what[:60], args.what, ""
    sent = ctl.send_emergency(target, title, text, plan, args.zones, args.timeout)
    where = ", ".join(sent.zone_names)
    _out(f"Đã gửi tin khẩn cấp “{title}” (mã {sent.id}) tới {where}: loa run đã nhận và ghi "
         "vào nhật ký; tin sẽ ngắt buổi phát đang chạy và được phát ngay.")
    return 0


STATUS_EVENTS = ("device-error", "reload-failed", "log-write-failed", "disk-low",
                 "clock-untrusted", "underflow", "reserve-released", "emergency-dropped",
                 "reconcile-conflict")


def status(args) -> int:
    """Is `loa run` running and healthy? What plays next, disk, journal, last errors."""
    from loa.log import EVENT_VI, LogStore
    from loa.log.disk import disk_state
    from loa.log.journal import pending_in
    from loa.player import control as ctl
    from loa.schedule import expand

    healthy = True
    data = settings.data_dir()
    state = ctl.daemon_state(data)
    beat, age, locked, running = state.heartbeat, state.age, state.locked_by, state.running
    if running:
        _out(f"loa run: đang chạy (PID {beat.get('pid')}, nhịp tim {max(age, 0):.0f} giây "
             "trước).")
    elif beat is not None and age is not None:
        healthy = False
        _out(f"loa run: KHÔNG CHẠY hoặc bị treo: nhịp tim cuối cách đây {age:.0f} giây "
             f"(PID {beat.get('pid')}).")
    else:
        healthy = False
        _out("loa run: KHÔNG CHẠY trên máy này.")
    if locked is not None and not running:
        _out(f"  Tệp khóa daemon.lock vẫn do tiến trình PID {locked} giữ.")

    path = args.schedule or (beat or {}).get("schedule")
    schedule = None
    if path:
        _out(f"Lịch phát: {path}")
        try:
            schedule, bulletins = _load(path)
        except LoaError as exc:
            healthy = False
            _out(f"  Không đọc được lịch: {exc}")
    else:
        _out("Lịch phát: không rõ (chỉ tên tệp lịch: loa status LỊCH).")

    if beat is not None and running:
        problem = beat.get("clock_problem")
        if problem:
            healthy = False
            _out(f"Đồng hồ: CHƯA TIN ĐƯỢC — {problem}; loa chưa phát.")
        else:
            _out("Đồng hồ: đáng tin.")
    if beat is not None and running and beat.get("log_writable") is False:
        healthy = False
        _out(f"Sổ nhật ký: KHÔNG GHI ĐƯỢC ({beat.get('log_error')}); lượt phát vẫn được "
             "phát và giữ trong journal.bin.")

    if schedule is not None:
        now = datetime.now(schedule.station.tz)
        occs = expand(schedule, bulletins, now, now + timedelta(days=2))[:5]
        if not occs:
            _out("Sắp phát: không có gì trong 2 ngày tới.")
        else:
            _out("Sắp phát:")
        for occ in occs:
            _out(f"  {_occurrence_line(schedule, occ)}")
            for item in occ.items:
                _out(f"      {item.bulletin.title}")

    disk = disk_state(data)
    if disk.low:
        healthy = False
        _out(f"Đĩa: CẢNH BÁO SẮP ĐẦY — {disk.describe()}. Hãy xóa bớt tệp "
             "(loa clips prune, tệp cũ) để sổ nhật ký luôn ghi được.")
    else:
        _out(f"Đĩa: {disk.describe()}.")

    journal = pending_in(data)
    waiting = len(journal.get("plays", {}))
    if waiting:
        healthy = False
        _out(f"Nhật ký: {waiting} lượt phát đang chờ ghi vào sổ (giữ trong journal.bin, "
             "sẽ tự ghi khi sổ ghi được).")
    else:
        _out("Nhật ký: không có lượt phát nào chờ ghi.")

    errors = [tuple(e) for e in journal.get("events", []) if e[1] in STATUS_EVENTS]
    try:
        if settings.db_path().exists():  # looking must not create the log
            store = LogStore(settings.db_path())
            try:
                errors += [e for e in store.events(limit=200) if e[1] in STATUS_EVENTS]
            finally:
                store.close()
    except LoaError as exc:
        healthy = False
        _out(f"Sổ nhật ký: không mở được ({exc}).")
    errors = sorted(errors, key=lambda e: e[0], reverse=True)[:5]
    if errors:
        _out("Lỗi gần đây:")
        for at, kind, detail in errors:
            when = datetime.fromisoformat(at).astimezone(DEFAULT_TZ)
            _out(f"  {when:%d/%m/%Y %H:%M:%S}  {EVENT_VI.get(kind, kind)}: {detail}")
    _out("Tình trạng: TỐT." if healthy else "Tình trạng: CẦN XEM LẠI (xem các dòng trên).")
    return 0 if healthy else 1


def calendar(args) -> int:
    from loa.schedule import expand
    from loa.schedule.ics import write_ics
    from loa.schedule.model import WEEKDAYS_VI

    if args.ics:
        from loa.fsio import check_target

        check_target(args.ics)
    schedule, bulletins = _load(args.schedule)
    start = datetime.now(schedule.station.tz)
    occs = expand(schedule, bulletins, start, start + timedelta(days=args.days))
    if args.ics:
        write_ics(args.ics, schedule, occs)
        _out(f"Đã xuất {len(occs)} buổi phát ra {args.ics} (mở bằng lịch điện thoại, "
             "Google Calendar, Outlook).")
        return 0
    total = 0.0
    for occ in occs:
        secs = occ.estimated_seconds()
        total += secs
        zones = ", ".join(schedule.zones[z].name for z in occ.zones)
        _out(f"{WEEKDAYS_VI[occ.at.weekday()]} {occ.at:%d/%m %H:%M}  ~{secs / 60:4.1f} phút  "
             f"{zones}: " + "; ".join(i.bulletin.id for i in occ.items))
    _out(f"{len(occs)} buổi phát trong {args.days} ngày, tổng khoảng {total / 60:.0f} phút.")
    return 0


# --- log and export ----------------------------------------------------------------------------

def _shown(text: str | None) -> str:
    """Logged operator text as a terminal may show it: no control characters (an escape
    sequence in a title must not repaint the officer's screen)."""
    import re

    return re.sub("[\x00-\x1f\x7f-\x9f]", " ", text or "")


def print_log(rows, tz=DEFAULT_TZ) -> None:
    from loa.log import STATUS_VI

    if not rows:
        _out("Không có lượt phát nào khớp.")
        return
    _out(f"{'Giờ theo lịch':19} {'Bắt đầu thực tế':23} {'Vùng':12} {'Trạng thái':10} Bản tin")
    for r in rows:
        sched = datetime.fromisoformat(r.scheduled_at).astimezone(tz)
        started = (datetime.fromisoformat(r.started_at).astimezone(tz).strftime(
            "%d/%m/%Y %H:%M:%S.%f")[:23] if r.started_at else "—")
        reason = f" ({_shown(r.reason)})" if r.reason else ""
        _out(f"{sched:%d/%m/%Y %H:%M:%S} {started:23} {r.zone:12} "
             f"{STATUS_VI.get(r.status, r.status):10} {_shown(r.bulletin)} — {_shown(r.title)[:50]}{reason}")


def _period(args):
    from loa.log.period import from_args

    return from_args(quarter_=args.quarter, half_=args.half, year_=args.year,
                     month_=args.month, start=args.start, end=args.end)


def _log_filter(args, tz):
    """LogFilter from the CLI's period and filter options."""
    from loa.log import STATUS_VI, LogFilter

    period = _period(args)
    since, until = period.bounds(tz) if period else (None, None)
    statuses = []
    by_label = {v: k for k, v in STATUS_VI.items()}
    for st in args.status or ():
        code = st if st in STATUS_VI else by_label.get(st.strip().lower())
        if code is None:
            known = ", ".join(f"{k} ({v})" for k, v in STATUS_VI.items())
            raise LoaError(f"trạng thái '{st}' không có; chọn: {known}.")
        statuses.append(code)
    return LogFilter(since=since, until=until, zones=tuple(args.zone or ()),
                     statuses=tuple(statuses), bulletins=tuple(args.bulletin or ())), period


def _open_log():
    from loa.log import LogStore

    return LogStore(settings.db_path())


def show_log(args) -> int:
    from loa.log import EVENT_VI

    where, period = _log_filter(args, DEFAULT_TZ)
    store = _open_log()
    try:
        if args.events:
            events = store.events(limit=args.limit or None, since=where.since,
                                  until=where.until)
            if not events:
                _out("Chưa có sự kiện nào.")
            for at, kind, detail in events:
                when = datetime.fromisoformat(at).astimezone(DEFAULT_TZ)
                _out(f"{when:%d/%m/%Y %H:%M:%S}  {EVENT_VI.get(kind, kind):22} "
                     f"{_shown(detail)}")
            return 0
        rows = store.plays(limit=args.limit or None, where=where)
        print_log(rows)
        if args.limit and len(rows) == args.limit:
            _out(f"(chỉ hiện {args.limit} lượt mới nhất; --limit 0 để xem hết)")
    finally:
        store.close()
    return 0


def _station_info(schedule_path):
    """(tz, zone names, schedule or None) from an optional schedule file."""
    if not schedule_path:
        return DEFAULT_TZ, {}, None
    from loa.schedule import load_schedule

    sched = load_schedule(schedule_path)
    return sched.station.tz, {z.id: z.name for z in sched.zones.values()}, sched


def export(args) -> int:
    from loa.fsio import check_target
    from loa.report import export_csv, export_json

    fmt = args.format or Path(args.output).suffix.lower().lstrip(".")
    if fmt not in ("csv", "xlsx", "json"):
        raise LoaError("không rõ định dạng: dùng --format csv|xlsx|json hoặc đuôi tệp "
                       ".csv, .xlsx, .json.", args.output)
    check_target(args.output)  # before a year of plays is read
    tz, zone_names, sched = _station_info(args.schedule)
    where, _ = _log_filter(args, tz)
    store = _open_log()
    try:
        if fmt == "csv":
            n = export_csv(store, args.output, where)
        elif fmt == "json":
            station = sched.station.id if sched else ""
            n = export_json(store, args.output, station, where)
        else:
            from loa.report.xlsx import export_xlsx

            n = export_xlsx(store, args.output, tz, where, zone_names)
    finally:
        store.close()
    _out(f"Đã xuất {n} lượt phát ra {args.output}.")
    return 0


def report(args) -> int:
    from loa.fsio import check_target
    from loa.log.period import parse_day
    from loa.report.periodic import Letterhead, build, minutes, to_pdf, write_docx
    from loa.schedule.expand import program_bulletin_files

    period = _period(args)
    if period is None:
        raise LoaError("chọn kỳ báo cáo: --quarter 2026Q1, --half 2026H1, --year 2026, "
                       "--month 2026-03 hoặc --from/--to.")
    tz, zone_names, sched = _station_info(args.schedule)
    st = sched.station
    head = Letterhead(owner=st.owner, issuer=st.name, place=st.place, signer=st.signer,
                      signer_title=st.signer_title, number=args.number or "")
    today = parse_day(args.date, "ngày ký") if args.date else datetime.now(tz).date()
    out = Path(args.output or f"bao-cao-{period.code}.docx")
    check_target(out)
    if args.pdf:
        check_target(out.with_suffix(".pdf"))
    store = _open_log()
    try:
        data = build(store, period, tz, program_bulletin_files(sched), zone_names, head, today)
    finally:
        store.close()
    write_docx(data, out)
    t = data.summary.total
    _out(f"Đã ghi báo cáo {period.label} ra {out}: {t.aired}/{t.scheduled} lượt phát trọn, "
         f"{minutes(t.airtime_s)} phút.")
    missing = [tp for cov in data.coverage for tp in cov.never_aired]
    if missing:
        _out(f"Có {len(missing)} nội dung kế hoạch chưa được phát trong kỳ (xem mục V).")
    if args.pdf:
        pdf = to_pdf(out, out.with_suffix(".pdf"))
        _out(f"Đã xuất PDF: {pdf}")
    return 0


def demo(args) -> int:
    from loa.cli.demo import run_demo

    return run_demo(args.sink)


__all__ = ["LoaError"]
