"""`loa demo`: the whole path once, on a real plan, on embedded defaults; exits by itself."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta

from loa import settings
from loa.clock import DEFAULT_TZ, SystemClock

DEMO_PLAN = "ba-vi-2026.txt"
DEMO_TOPICS = ("IV.2.a", "IV.1.đ")  # two short topics, so the demo takes seconds
LEAD_SECONDS = 6


def _say(text: str) -> None:
    print(text, flush=True)


def run_demo(sink_kind: str = "auto") -> int:
    from loa.cli.commands import print_log, run_daemon
    from loa.cli.wiring import chain_for, renderer_for
    from loa.log import LogFilter, LogStore
    from loa.log.period import month
    from loa.plan import import_plan
    from loa.report.periodic import Letterhead, build, write_docx
    from loa.report.xlsx import export_xlsx
    from loa.schedule import load_program_bulletins, load_schedule
    from loa.schedule.expand import program_bulletin_files
    from loa.script import approve, load_bulletins, new_bulletin_file
    from loa.yamlio import write_yaml

    # The demo keeps its own data folder so its plays never mix with a station's real log.
    home = settings.data_dir() / "demo"
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    os.environ["LOA_DATA_DIR"] = str(home)
    clock = SystemClock(DEFAULT_TZ)

    plan_path = settings.SAMPLE_PLANS / DEMO_PLAN
    _say(f"1. Đọc kế hoạch {plan_path.name} …")
    plan = import_plan(plan_path)
    _say(f"   {plan.title} ({plan.issuer}): {len(plan.topics)} nội dung trong mục "
         f"{plan.content.path}.")

    bfile_path = home / "bulletins.yaml"
    new_bulletin_file(bfile_path, plan).save()
    bfile = load_bulletins(bfile_path)
    approve(bfile, list(DEMO_TOPICS), "Cán bộ đài (chạy thử)", clock.now())
    bfile.save()
    _say(f"2. Soạn {len(bfile.bulletins)} bản tin nháp, duyệt {', '.join(DEMO_TOPICS)}.")

    schedule_path = home / "schedule.yaml"
    station = {
        "id": "ba-vi",
        "name": "Đài truyền thanh xã Ba Vì",
        "timezone": "Asia/Ho_Chi_Minh",
        # No quiet hours here: the demo must run at any hour; real schedules set them.
        "max_session_minutes": 45,
        "voice": "north",
        "engines": ["gtts", "espeak"],
    }
    sched = {
        "station": station,
        "zones": [
            {"id": "toan-xa", "name": "Toàn xã", "device": "default"},
            {"id": "thon-1", "name": "Thôn 1", "device": "default"},
        ],
        "sessions": [{"id": "demo", "name": "Buổi chạy thử", "time": "00:00:00",
                      "days": "hằng ngày", "zones": ["toan-xa", "thon-1"]}],
        "programs": [{"id": "kstthc-2026", "name": "Tuyên truyền kiểm soát TTHC 2026",
                      "bulletins": "bulletins.yaml", "sessions": ["demo"], "per_session": 2}],
    }
    write_yaml(schedule_path, sched)
    schedule = load_schedule(schedule_path)

    _say("3. Đọc thành tiếng (gTTS nếu có mạng, không thì espeak-ng) …")
    renderer = renderer_for(schedule.station, chain_for(schedule.station, clock))
    bulletins = load_program_bulletins(schedule)
    for b in bulletins["kstthc-2026"]:
        clip = renderer.render(b.text).clip
        how = " (bộ đọc dự phòng, vì không kết nối được Google)" if clip.fallback else ""
        _say(f"   {b.id}: {clip.seconds:.1f} giây, bộ đọc {clip.engine}{how}.")

    start = (clock.now() + timedelta(seconds=LEAD_SECONDS)).replace(microsecond=0)
    sched["sessions"][0]["time"] = start.strftime("%H:%M:%S")
    # Today only, so the daemon has nothing left afterwards and the demo ends by itself.
    sched["programs"][0]["from"] = sched["programs"][0]["until"] = start.date().isoformat()
    write_yaml(schedule_path, sched)
    schedule = load_schedule(schedule_path)
    _say(f"4. Xếp lịch: buổi phát lúc {start:%H:%M:%S} cho vùng Toàn xã và Thôn 1 "
         f"({schedule_path}).")

    _say("5. Phát tự động theo lịch …")
    # The demo's clock may not be NTP-synced (a fresh Pi): it plays anyway, as a test.
    run_daemon(schedule_path, sink_kind, home / "played", until=start + timedelta(minutes=10),
               until_idle=True, report=lambda t: _say("   " + t), trust_sync=False)

    _say("6. Nhật ký phát:")
    tz = schedule.station.tz
    zone_names = {z.id: z.name for z in schedule.zones.values()}
    store = LogStore(settings.db_path())
    try:
        rows = store.plays(since=start - timedelta(seconds=1))
        print_log(list(reversed(rows)))
        _say("7. Xuất nhật ký và báo cáo cho cán bộ:")
        xlsx = home / "nhat-ky.xlsx"
        export_xlsx(store, xlsx, tz, LogFilter(since=start - timedelta(seconds=1)), zone_names)
        period = month(f"{start:%Y-%m}")
        head = Letterhead(owner="UBND xã Ba Vì", issuer=schedule.station.name, place="Ba Vì")
        data = build(store, period, tz, program_bulletin_files(schedule), zone_names, head,
                     start.date())
    finally:
        store.close()
    docx = write_docx(data, home / f"bao-cao-{period.code}.docx")
    _say(f"   Excel: {xlsx}")
    _say(f"   Báo cáo {period.label} (Word): {docx}")
    played = sum(r.status in ("played", "late") for r in rows)
    _say(f"Xong: {played}/{len(rows)} lượt phát thành công. Dữ liệu chạy thử ở {home}.")
    return 0 if rows and played == len(rows) else 1


__all__ = ["run_demo"]
