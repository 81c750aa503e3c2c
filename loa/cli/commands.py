"""One function per CLI command: read the arguments, call loa.station, print Vietnamese."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

from loa import station as svc
from loa.cli.show import (
    err,
    item_line,
    mmss,
    out,
    print_backup,
    print_events,
    print_log,
    session_line,
    warn,
)
from loa.errors import LoaError

# --- plan ----------------------------------------------------------------------------------


def _plan_arg(args):
    """One file, or the photos of the pages in the order given."""
    return args.plan[0] if len(args.plan) == 1 else args.plan


def _ocr_progress(done: int, total: int) -> None:
    if done < total:
        print(f"Đang nhận dạng chữ (OCR) trang {done + 1}/{total}…", file=sys.stderr,
              flush=True)


def _tell_ocr(plan) -> None:
    if plan.ocr is not None:  # stderr: stdout may be the --json
        print(f"Lưu ý: {plan.source}: {plan.ocr.describe()}", file=sys.stderr, flush=True)


def plan_import(args) -> int:
    plan = svc.read_plan(_plan_arg(args), section=args.section, progress=_ocr_progress)
    if args.json:
        out(json.dumps(
            {"plan": plan.plan_id, "title": plan.title, "issuer": plan.issuer,
             "number": plan.number, "place_date": plan.place_date, "year": plan.year,
             "references": plan.references,
             "mentions_loudspeakers": plan.mentions_loudspeakers,
             "garbled": plan.quality.garbled if plan.quality else False,
             "ocr": plan.ocr.to_json() if plan.ocr is not None else None,
             "section": plan.content.path,
             "topics": [{"id": t.path, "title": t.title, "line": t.line, "text": t.text}
                        for t in plan.topics]},
            ensure_ascii=False, indent=2))
    _tell_ocr(plan)
    if plan.quality is not None and plan.quality.garbled:
        warn(f"{plan.source}: chữ trong kế hoạch có vẻ bị lỗi (mất dấu hoặc nhận dạng sai): "
             f"{plan.quality.describe()}. Bản tin soạn ra cần được gõ lại trước khi duyệt. "
             "Với tệp .txt, thử khôi phục dấu: loa plan repair KẾ_HOẠCH -o <tệp mới>.txt")
    if args.output:
        done = svc.draft_bulletins(plan, args.output, args.template, args.station,
                                   args.schedule)
        if not args.json:
            merge = done.merge
            if merge is None:
                out(f"Đã soạn {done.count} bản tin nháp từ {len(plan.topics)} nội dung của "
                    f"mục {plan.content.path} vào {done.path}.")
            else:
                out(f"Đã cập nhật {done.path}: giữ nguyên {len(merge.kept)}, nội dung thay đổi "
                    f"{len(merge.changed)} (cần duyệt lại), thêm mới {len(merge.added)}, "
                    f"ngừng phát {len(merge.retired)}.")
                for bid in merge.changed:
                    out(f"  cần xem lại: {bid}")
            out(f"Hãy đọc, sửa rồi duyệt: loa bulletin approve {done.path} <mã> "
                "--by <tên người duyệt>")
    elif not args.json:
        for t in plan.topics:
            out(f"{t.path:10} {t.title}")
    return 0


def plan_repair(args) -> int:
    from loa.station.bulletins import repair_plan_text

    done = repair_plan_text(args.plan, args.output)
    r = done.repaired
    restored = r.syllables - r.unknown
    line = (f"Đã khôi phục dấu cho {restored}/{r.syllables} âm tiết ({r.changed} chữ được "
            f"sửa) vào {done.output}")
    if r.unknown:
        examples = ", ".join(r.unknown_words[:8])
        line += (f"; {r.unknown} âm tiết ({r.share_unknown:.1%}) không khôi phục được, "
                 f"ví dụ: {examples}")
    out(line + "; hãy đọc lại trước khi nhập.")
    if not done.garbled_before:
        out("Tệp gốc vốn không có vẻ bị lỗi chữ: hãy so sánh kỹ, có thể không cần sửa.")
    elif done.garbled_after:
        warn(f"{done.output}: chữ vẫn còn lỗi sau khi sửa; hãy gõ lại những chỗ còn sai.")
    out(f"Tiếp theo: loa plan import {done.output} -o <tệp bản tin>.yaml")
    return 0


def plan_text(args) -> int:
    out(svc.plan_text(_plan_arg(args), progress=_ocr_progress))
    return 0


def plan_show(args) -> int:
    plan = svc.read_plan(_plan_arg(args), section=args.section, progress=_ocr_progress)
    _tell_ocr(plan)
    out(f"{plan.title} — {plan.issuer or 'không rõ cơ quan ban hành'}")
    for node in plan.outline.walk():
        if node.kind == "root":
            continue
        depth = node.path.count(".")
        mark = "  ◀ NỘI DUNG PHÁT" if node is plan.content else ""
        text = node.text
        out(f"{'  ' * depth}{node.path}  {text[:70]}{'…' if len(text) > 70 else ''}{mark}")
    return 0


# --- bulletins -------------------------------------------------------------------------------

def bulletin_list(args) -> int:
    listed = svc.list_bulletins(args.file)
    for b in listed.items:
        who = f" ({b.approved_by})" if b.approved_by else ""
        flag = "  [CẦN XEM LẠI]" if b.review else ""
        out(f"{b.id:10} {b.status_vi:10}{who:16} ~{mmss(b.seconds)}  {b.title}{flag}")
        for name, status in b.versions:
            out(f"{'':10} + {name}: {status}")
    out("Tổng: " + ", ".join(f"{n} {label}" for label, n in listed.counts().items()))
    for b in listed.items:
        if b.why_not:
            warn(f"{listed.path}, dòng {b.line}: bản tin “{b.title}” [{b.id}] {b.why_not}; "
                 f"chưa duyệt lại thì không được phát: loa bulletin approve {listed.path} "
                 f"{b.id}")
        elif b.status == "returned":
            warn(f"{listed.path}, dòng {b.line}: bản tin “{b.title}” [{b.id}] bị trả lại"
                 f"{' bởi ' + b.returned_by if b.returned_by else ''}: {b.review_note}")
    return 0


def _recording_seconds(path) -> float | None:
    """A recording's length from its WAV header (loa imports recordings as PCM WAV)."""
    import wave

    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / w.getframerate()
    except (OSError, EOFError, wave.Error):
        return None


def bulletin_show(args) -> int:
    b, view = svc.show_bulletin(args.file, args.id)
    out(f"{b.title} [{b.id}]")
    who = f", {b.approved_by} duyệt lúc {b.approved_at}" if b.approved_by else ""
    if b.audio:  # what airs is the recording: its length, not the words' estimate
        length = _recording_seconds(b.audio_path)
        said = (f"giọng đọc thu âm dài {mmss(length)}" if length is not None
                else "giọng đọc thu âm (không đọc được tệp)")
    else:
        said = f"đọc khoảng {mmss(view.seconds)}"
    out(f"Trạng thái: {view.status_vi}{who}; {said}.")
    if b.review_note:
        out(f"Lý do trả lại ({b.returned_by}, {b.returned_at}): {b.review_note}")
    if b.note:
        out(f"Ghi chú: {b.note}")
    if b.audio:
        out(f"Giọng đọc thu âm: {b.audio} (phát tệp này thay cho lời dưới đây)")
    for lang, v in b.versions.items():
        what = f"tệp ghi âm {v.audio}" if v.audio else f"lời: {v.text}"
        who = f", {v.approved_by} duyệt lúc {v.approved_at}" if v.approved_by else ""
        out(f"Bản {v.label} ({lang}): {v.status_vi}{who}; {what}")
    out("")
    out(b.text)
    return 0


def bulletin_edit(args) -> int:
    if args.title is None and args.text is None:
        raise LoaError("cần --title hoặc --text (điều muốn sửa).")
    b = svc.edit_bulletin(args.file, args.id, title=args.title, text=args.text)
    out(f"Đã sửa bản tin “{b.title}” [{b.id}] trong {args.file}.")
    if b.edited_after_approval:
        out(f"Bản tin đã sửa sau khi duyệt: chờ duyệt lại, duyệt lại mới được phát (loa "
            f"bulletin approve {args.file} {b.id}).")
    return 0


def bulletin_record(args) -> int:
    if args.remove and args.audio:
        raise LoaError("--remove không đi kèm tệp ghi âm: bỏ một trong hai.")
    b = svc.record_bulletin(args.file, args.id, args.audio, remove=args.remove)
    if args.remove:
        out(f"Đã bỏ tệp ghi âm của bản tin “{b.title}” [{b.id}]: bản tin sẽ được đọc bằng "
            "máy theo lời.")
    else:
        out(f"Đã nhập tệp ghi âm {args.audio} cho bản tin “{b.title}” [{b.id}]: lưu ở "
            f"{b.audio}, giọng đọc thu âm.")
    if b.edited_after_approval:
        out(f"Bản tin đã đổi sau khi duyệt: chờ duyệt lại, duyệt lại mới được phát (loa "
            f"bulletin approve {args.file} {b.id}).")
    return 0


def _title(path, bid: str) -> str:
    """A bulletin's title, so a version's message names it as the Vietnamese one's does."""
    return next((b.title for b, _ in svc.show_bulletins(path)[1] if b.id == bid), bid)


def bulletin_submit(args) -> int:
    by = args.by or svc.os_account()[0]
    if getattr(args, "lang", None):
        from loa.station.bulletins import submit_bulletin_versions

        for bid, v in zip(args.ids, submit_bulletin_versions(args.file, args.ids, args.lang, by),
                          strict=True):
            out(f"Đã gửi duyệt bản {v.label} của {bid}: {_title(args.file, bid)}")
        return 0
    from loa.script.bulletin import marker_problem

    for b in svc.submit_bulletins(args.file, args.ids, by):
        out(f"Đã gửi duyệt {b.id}: {b.title}")
        unfinished = marker_problem(f"{args.file}: bản tin [{b.id}]", b.text)
        if unfinished:  # sent anyway: the leader may fill it in, but cannot approve it as is
            warn(unfinished)
    return 0


def bulletin_approve(args) -> int:
    if getattr(args, "lang", None):
        from loa.station.bulletins import approve_bulletin_versions

        done = approve_bulletin_versions(args.file, args.ids, args.lang, args.by)
        for bid, v in zip(args.ids, done, strict=True):
            out(f"Đã duyệt bản {v.label} của {bid}: {_title(args.file, bid)} (người duyệt: "
                f"{v.approved_by}, "
                f"tài khoản {v.approved_account})")
        return 0
    for b in svc.approve_bulletins(args.file, args.ids, args.by, force=args.force):
        out(f"Đã duyệt {b.id}: {b.title} (người duyệt: {b.approved_by}, tài khoản "
            f"{b.approved_account})")
    return 0


def bulletin_return(args) -> int:
    by = args.by or svc.os_account()[0]
    if getattr(args, "lang", None):
        from loa.station.bulletins import return_bulletin_version

        v = return_bulletin_version(args.file, args.id, args.lang, by, args.note)
        out(f"Đã trả lại bản {v.label} của {args.id}: {_title(args.file, args.id)} — lý do: "
            f"{v.review_note}")
        return 0
    b = svc.return_bulletin(args.file, args.id, by, args.note)
    out(f"Đã trả lại {b.id}: {b.title} — lý do: {b.review_note}")
    return 0


def bulletin_version(args) -> int:
    from loa.station.bulletins import set_bulletin_version

    b, v = set_bulletin_version(args.file, args.id, args.lang, audio=args.audio,
                                text=args.text, remove=args.remove)
    name = v.label
    if args.remove:
        out(f"Đã bỏ bản {name} của bản tin “{b.title}” [{b.id}]: vùng nghe {name} sẽ nghe "
            "bản tiếng Việt.")
        return 0
    what = f"tệp ghi âm {v.audio}" if v.audio else "lời đọc"
    out(f"Đã lưu bản {name} của bản tin “{b.title}” [{b.id}] ({what}); trạng thái: "
        f"{v.status_vi}.")
    if not v.is_approved:
        out(f"Bản này chỉ được phát sau khi duyệt: loa bulletin approve {args.file} {b.id} "
            f"--lang {v.language}")
    return 0


def bulletin_retire(args) -> int:
    for b in svc.retire_bulletins(args.file, args.ids):
        out(f"Đã ngừng phát {b.id}: {b.title}")
    return 0


# --- text and voice ----------------------------------------------------------------------------

def normalize(args) -> int:
    from loa.script.normalize import Normalizer

    text = args.text if args.text is not None else (sys.stdin.read() if sys.stdin else "")
    norm = Normalizer(variant=args.variant,
                      day_prefix=None if args.day_prefix == "none" else args.day_prefix,
                      lexicon_files=args.lexicon)
    if args.explain:
        spoken, changes = norm.explain(text)
        out(spoken)
        for ch in changes:
            out(f"  [{ch.rule}] {ch.original!r} → {ch.spoken!r}")
    else:
        out(norm.normalize(text))
    return 0


def say(args) -> int:
    said = svc.say(args.text, args.output, tuple(args.engine) if args.engine else None,
                   args.voice, chime=not args.no_chime)
    for failed in said.engines_failed:
        out(f"Không dùng được: {failed}; chuyển sang bộ đọc dự phòng.")
    from loa.voice.engine import engine_label_vi

    out(f"Đã ghi {said.path} ({said.seconds:.1f} giây, bộ đọc {engine_label_vi(said.engine)}, giọng "
        f"{said.voice}).")
    return 0


# --- schedule --------------------------------------------------------------------------------

def validate(args) -> int:
    checked = svc.validate(args.schedule)
    for w in checked.warnings:
        warn(str(w))
    if not checked.ok:
        for p in checked.problems:
            err(str(p))
        return 2
    sched = checked.station.schedule
    out(f"Lịch phát hợp lệ: {sched.station.name}, {len(sched.zones)} vùng, "
        f"{len(sched.sessions)} buổi, {len(sched.programs)} chương trình, "
        f"{checked.approved} bản tin đã duyệt.")
    return 0


def next_(args) -> int:
    _, sessions = svc.upcoming(args.schedule, args.days)
    if not sessions:
        out(f"Không có gì để phát trong {args.days} ngày tới.")
    for s in sessions:
        out(f"{session_line(s)} (~{s.seconds / 60:.1f} phút)")
        for i in s.items:
            out(f"    {item_line(i)} [{i.bulletin_id}]")
    return 0


def calendar(args) -> int:
    from loa.schedule.model import WEEKDAYS_VI

    if args.ics:
        n = svc.export_ics(args.schedule, args.ics, args.days)
        out(f"Đã xuất {n} buổi phát ra {args.ics} (mở bằng lịch điện thoại, "
            "Google Calendar, Outlook).")
        return 0
    _, sessions = svc.upcoming(args.schedule, args.days)
    total = 0.0
    for s in sessions:
        total += s.seconds
        out(f"{WEEKDAYS_VI[s.at.weekday()]} {s.at:%d/%m %H:%M}  ~{s.seconds / 60:4.1f} phút  "
            f"{s.session_name} — {', '.join(s.zone_names)}: "
            + "; ".join(i.title for i in s.items))
    out(f"{len(sessions)} buổi phát trong {args.days} ngày, tổng khoảng {total / 60:.0f} phút.")
    return 0


def run(args) -> int:
    from loa.clock import SystemClock

    if getattr(args, "server", None):
        from loa.cli.fleet_device import run_server

        run_server(args, report=out)
        out("Đã dừng phát tự động.")
        return 0
    if not args.schedule:
        raise LoaError("cần tên tệp lịch phát (loa run LỊCH), hoặc --server ĐỊA_CHỈ để phát "
                       "theo lịch của máy chủ.")
    station = svc.load_station(args.schedule)
    until = (SystemClock(station.schedule.station.tz).now() + timedelta(seconds=args.run_for)
             if args.run_for else None)
    svc.run_daemon(args.schedule, args.sink, Path(args.wav_dir) if args.wav_dir else None,
                   until, args.until_idle, report=out, trust_sync=not args.no_time_sync,
                   fast=args.fast)
    out("Đã dừng phát tự động.")
    return 0


def now(args) -> int:
    """Hand an emergency to the running daemon; it answers once it has logged it."""
    if args.bulletins:
        sent = svc.send_emergency(bulletins=args.bulletins, bulletin_id=args.what,
                                  zones=args.zones, force=args.force, timeout=args.timeout)
    else:
        sent = svc.send_emergency(args.what, title=args.title, zones=args.zones,
                                  timeout=args.timeout)
    out(f"Đã gửi tin khẩn cấp “{sent.title}” (mã {sent.id}) tới {', '.join(sent.zone_names)}: "
        "loa run đã nhận và ghi vào nhật ký; tin sẽ ngắt buổi phát đang chạy và được phát "
        "ngay.")
    return 0


def status(args) -> int:
    """Is `loa run` running and healthy? What plays next, disk, journal, last errors."""
    st = svc.daemon_status(args.schedule)
    if st.running:
        out(f"loa run: đang chạy (PID {st.pid}, nhịp tim {max(st.heartbeat_age_s or 0, 0):.0f} "
            "giây trước).")
    elif st.heartbeat_age_s is not None:
        out(f"loa run: KHÔNG CHẠY hoặc bị treo: nhịp tim cuối cách đây "
            f"{st.heartbeat_age_s:.0f} giây (PID {st.pid}).")
    else:
        out("loa run: KHÔNG CHẠY trên máy này.")
    if st.lock_pid is not None and not st.running:
        out(f"  Tệp khóa daemon.lock vẫn do tiến trình PID {st.lock_pid} giữ.")
    if st.schedule_path:
        name = f" ({st.station_name})" if st.station_name else ""
        out(f"Lịch phát: {st.schedule_path}{name}")
        if st.schedule_error:
            out(f"  Không đọc được lịch: {st.schedule_error}")
    else:
        out("Lịch phát: không rõ (chỉ tên tệp lịch: loa status LỊCH).")
    if st.running:
        if st.clock_problem:
            out(f"Đồng hồ: CHƯA TIN ĐƯỢC — {st.clock_problem}; loa chưa phát.")
        else:
            out("Đồng hồ: đáng tin.")
        if st.log_unwritable:
            out(f"Sổ nhật ký: KHÔNG GHI ĐƯỢC ({st.log_error}); lượt phát vẫn được phát và "
                "giữ trong journal.bin.")
    if st.schedule_path and not st.schedule_error:
        out("Sắp phát:" if st.upcoming else "Sắp phát: không có gì trong 2 ngày tới.")
        for s in st.upcoming:
            out(f"  {session_line(s)}")
            for i in s.items:
                out(f"      {item_line(i)}")
    if st.schedule_path and not st.schedule_error:
        if st.backup_voiced:
            print_backup(st.backup_voiced, st.schedule_path)
        else:
            out("Giọng dự phòng: không còn bản tin đã duyệt nào đọc bằng giọng dự phòng.")
    if st.disk is not None and st.disk.low:
        out(f"Đĩa: CẢNH BÁO SẮP ĐẦY — {st.disk.describe()}. Hãy xóa bớt tệp "
            "(loa clips prune, tệp cũ) để sổ nhật ký luôn ghi được.")
    elif st.disk is not None:
        out(f"Đĩa: {st.disk.describe()}.")
    if st.journal_waiting:
        out(f"Nhật ký: {st.journal_waiting} lượt phát đang chờ ghi vào sổ (giữ trong "
            "journal.bin, sẽ tự ghi khi sổ ghi được).")
    else:
        out("Nhật ký: không có lượt phát nào chờ ghi.")
    if st.log_open_error:
        out(f"Sổ nhật ký: không mở được ({st.log_open_error}).")
    if st.errors:
        out("Lỗi gần đây:")
        for e in st.errors:
            out(f"  {e.at:%d/%m/%Y %H:%M:%S}  {e.label}: {e.detail}")
    out("Tình trạng: TỐT." if st.healthy else "Tình trạng: CẦN XEM LẠI (xem các dòng trên).")
    return 0 if st.healthy else 1


# --- log and export ----------------------------------------------------------------------------

def _period(args):
    return svc.period_of(quarter=args.quarter, half=args.half, year=args.year,
                         month=args.month, start=args.start, end=args.end)


def show_log(args) -> int:
    names = svc.names_for(args.schedule, running=True)
    where = svc.log_filter(_period(args), names, args.zone or (), args.status or (),
                           args.bulletin or ())
    if args.events:
        print_events(svc.query_events(where.since, where.until, args.limit or None))
        return 0
    plays = svc.query_plays(where, names, args.limit or None)
    print_log(plays)
    if args.limit and len(plays) == args.limit:
        out(f"(chỉ hiện {args.limit} lượt mới nhất; --limit 0 để xem hết)")
    return 0


def export(args) -> int:
    n = svc.export_log(args.output, args.format, schedule=args.schedule, period=_period(args),
                       zones=args.zone or (), statuses=args.status or (),
                       bulletins=args.bulletin or ())
    out(f"Đã xuất {n} lượt phát ra {args.output}.")
    return 0


def report(args) -> int:
    from loa.log.period import parse_day
    from loa.report.periodic import minutes

    signed = parse_day(args.date, "ngày ký") if args.date else None
    done = svc.make_report(args.schedule, _period(args), args.output, pdf=args.pdf,
                           number=args.number or "", signed=signed)
    t = done.data.summary.total
    out(f"Đã ghi báo cáo {done.data.period.label} ra {done.docx}: {t.aired}/{t.scheduled} "
        f"lượt phát trọn, {minutes(t.airtime_s)} phút.")
    missing = [tp for cov in done.data.coverage for tp in cov.never_aired]
    if missing:
        out(f"Có {len(missing)} nội dung kế hoạch chưa được phát trong kỳ (xem mục V).")
    if done.pdf is not None:
        out(f"Đã xuất PDF: {done.pdf}")
    return 0


def demo(args) -> int:
    from loa.cli.demo import run_demo

    return run_demo(args.sink)
