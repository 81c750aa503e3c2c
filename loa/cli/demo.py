"""`loa demo`: the whole path once, on a real plan, on embedded defaults; exits by itself.

Every step is a call into loa.station, as the console would make it."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta

from loa import settings
from loa import station as svc
from loa.cli.show import print_log
from loa.clock import DEFAULT_TZ, SystemClock

DEMO_PLAN = "ba-vi-2026.txt"
DEMO_TOPICS = ("IV.2.a", "IV.1.đ")  # two short topics, so the demo takes seconds
LEAD_SECONDS = 6
# What the officer adds where a draft says [CẦN BỔ SUNG: …]: the demo plays the officer.
DEMO_FACTS = ("Bà con làm thủ tục tại Bộ phận Một cửa của UBND xã Ba Vì, trong giờ hành chính "
              "từ thứ Hai đến thứ Sáu, không mất phí.")


def _say(text: str) -> None:
    print(text, flush=True)


def _fill_markers(text: str) -> str:
    """The officer's edit: each [CẦN BỔ SUNG: …] replaced by the facts, other markers
    ([KIỂM TRA: …], none in the demo's topics) dropped with the suggestion kept."""
    from loa.script.draft import open_markers

    for marker in open_markers(text):
        fill = DEMO_FACTS if "SUNG" in marker.upper() else ""
        text = text.replace(marker, fill, 1)
    return " ".join(text.split())


def run_demo(sink_kind: str = "auto") -> int:
    from loa.log.period import month
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
    plan = svc.read_plan(plan_path)
    _say(f"   {plan.title} ({plan.issuer}): {len(plan.topics)} nội dung trong mục "
         f"{plan.content.path}.")

    bfile_path = home / "bulletins.yaml"
    drafted = svc.draft_bulletins(plan, bfile_path)
    filled = 0
    for bid in DEMO_TOPICS:
        draft, _view = svc.show_bulletin(bfile_path, bid)
        text = _fill_markers(draft.text)
        if text != draft.text:
            svc.edit_bulletin(bfile_path, bid, text=text)
            filled += 1
    approved = svc.approve_bulletins(bfile_path, list(DEMO_TOPICS), "Cán bộ đài (chạy thử)",
                                     clock)
    _say(f"2. Soạn {drafted.count} bản tin nháp; bổ sung điều bà con cần biết vào {filled} "
         "bản tin (chỗ [CẦN BỔ SUNG: …]), duyệt "
         + ", ".join(f"“{b.title}”" for b in approved) + ".")

    schedule_path = home / "schedule.yaml"
    station = {
        "id": "ba-vi",
        "name": "Đài truyền thanh xã Ba Vì",
        "timezone": "Asia/Ho_Chi_Minh",
        # No quiet hours here: the demo must run at any hour; real schedules set them.
        "max_session_minutes": 45,
        "voice": "north",
        "engines": ["gtts", "espeak"],
        "owner": "UBND xã Ba Vì",
        "place": "Ba Vì",
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

    _say("3. Đọc thành tiếng (gTTS nếu có mạng, không thì espeak-ng) …")
    rendered = svc.render(schedule_path, clock=clock, note=lambda t: _say(f"   Cảnh báo: {t}"))
    by_text = {o.text: o for o in rendered.outcomes}
    for b in rendered.needed:
        o = by_text[b.text]
        if o.clip is None:
            _say(f"   {b.title}: không đọc được ({o.error}).")
            continue
        how = " (bộ đọc dự phòng, vì không kết nối được Google)" if o.clip.fallback else ""
        _say(f"   {b.title}: {o.clip.seconds:.1f} giây, bộ đọc {o.clip.engine}{how}.")

    start = (clock.now() + timedelta(seconds=LEAD_SECONDS)).replace(microsecond=0)
    sched["sessions"][0]["time"] = start.strftime("%H:%M:%S")
    # Today only, so the daemon has nothing left afterwards and the demo ends by itself.
    sched["programs"][0]["from"] = sched["programs"][0]["until"] = start.date().isoformat()
    write_yaml(schedule_path, sched)
    svc.load_station(schedule_path)  # the rewritten file still loads, before the daemon
    _say(f"4. Xếp lịch: buổi phát lúc {start:%H:%M:%S} cho vùng Toàn xã và Thôn 1 "
         f"({schedule_path}).")

    _say("5. Phát tự động theo lịch …")
    # The demo's clock may not be NTP-synced (a fresh Pi): it plays anyway, as a test.
    svc.run_daemon(schedule_path, sink_kind, home / "played",
                   until=start + timedelta(minutes=10), until_idle=True,
                   report=lambda t: _say("   " + t), trust_sync=False)

    _say("6. Nhật ký phát:")
    names = svc.names_for(schedule_path)
    plays = svc.query_plays(svc.log_filter(None, names), names, limit=None,
                            since=start - timedelta(seconds=1))
    print_log(list(reversed(plays)))
    _say("7. Xuất nhật ký và báo cáo cho cán bộ:")
    xlsx = home / "nhat-ky.xlsx"
    svc.export_log(xlsx, schedule=schedule_path)
    period = month(f"{start:%Y-%m}")
    done = svc.make_report(schedule_path, period, home / f"bao-cao-{period.code}.docx",
                           signed=start.date())
    _say(f"   Excel: {xlsx}")
    _say(f"   Báo cáo {period.label} (Word): {done.docx}")
    played = sum(p.status in ("played", "late") for p in plays)
    _say(f"Xong: {played}/{len(plays)} lượt phát thành công. Dữ liệu chạy thử ở {home}.")
    return 0 if plays and played == len(plays) else 1


__all__ = ["run_demo"]
