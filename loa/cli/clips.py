"""`loa render` and `loa clips`: clips made before air time, and their upkeep."""

from __future__ import annotations

import sys

from loa import station as svc
from loa.cli.show import err, hms, out, print_backup, shown, warn
from loa.errors import LoaError
from loa.log.labels import engine_label

# the engine column of `loa clips list`: short, and never a code such as 'ghi-am'
ENGINE_SHORT = {"ghi-am": "thu âm", "gtts": "Google"}


def render(args) -> int:
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            from tqdm import tqdm  # 40 ms (its version lookup): only for a terminal to draw on

            bar = tqdm(total=total, unit="bản tin", file=sys.stderr, disable=None,
                       desc="Đọc bản tin")
        bar.update(1)

    try:
        # tqdm draws nothing when stderr is not a terminal (disable=None): skip loading it
        result = svc.render(args.schedule, upgrade=args.upgrade, mp3=args.mp3, jobs=args.jobs,
                            progress=progress if sys.stderr.isatty() else None, note=warn)
    finally:
        if bar is not None:
            bar.close()
    for refused in result.refused:
        warn(shown(refused.detail_vi))
    if not result.needed:
        out("Lịch phát chưa có bản tin nào đã duyệt; không có gì để đọc.")
        return 0
    out(f"Đã đọc {len(result.made)} bản tin mới, {len(result.cached)} bản tin có sẵn; theo bộ "
        "đọc: " + ", ".join(f"{engine_label(k)} {v}" for k, v in result.engines().items())
        + f"; tổng thời lượng {hms(result.airtime_s())}.")
    if args.upgrade:
        out(f"Đọc lại bằng bộ đọc tốt hơn: {len(result.upgraded)} bản tin.")
    # the officer's words for each engine passed over ("bộ đọc Google (trực tuyến) không
    # kết nối được"), not its code and English kind
    tried = sorted({f.message_vi for o in result.outcomes for f in o.failures})
    if tried:
        out("Không dùng được: " + "; ".join(tried) + ".")
    if result.fallback:
        out(f"{len(result.fallback)} bản tin đang dùng bộ đọc dự phòng. Khi có mạng, chạy: "
            f"loa render {args.schedule} --upgrade")
        backup = {o.text for o in result.fallback}
        titles = ", ".join(f"«{shown(b.title)}»" for b in result.needed
                           if not b.audio and b.text in backup)
        warn(f"bản tin đã duyệt vẫn đọc bằng giọng dự phòng: {titles}. loa run sẽ tự đọc lại "
             "bằng giọng chính khi có mạng.")
    failed = result.failed()
    for b, why in failed:
        err(f"không đọc được bản tin “{b.title}” [{b.id}]: {why}")
    return 1 if failed else 0


def clips_list(args) -> int:
    rows, notes = svc.list_clips()
    for note in notes:
        warn(note)
    for r in rows:
        c = r.clip
        mark = " (dự phòng)" if c.fallback else ""
        out(f"{c.hash[:12]}  {ENGINE_SHORT.get(c.engine, c.engine):7}{mark:11} {hms(c.seconds)}  "
            f"{c.lufs if c.lufs is not None else '?':>7} LUFS  {r.used[:16]}  "
            f"{r.text[:60] if r.text else '(không rõ lời: chỉ mục đã dựng lại)'}")
    out(f"{len(rows)} đoạn âm thanh, tổng {hms(sum(r.clip.seconds for r in rows))}.")
    try:
        path, backup = svc.backup_voiced_of(args.schedule)
    except LoaError as exc:
        if args.schedule:
            raise
        # the schedule loa run names cannot be read now: the clips are listed all the same
        warn(f"không biết bản tin nào còn đọc bằng giọng dự phòng: {exc}")
        return 0
    if backup:
        print_backup(backup, path)
    elif path:
        out("Giọng dự phòng: không còn bản tin đã duyệt nào đọc bằng giọng dự phòng.")
    return 0


def clips_check(args) -> int:
    bad, count, notes = svc.check_clips()
    for note in notes:
        warn(note)
    for key, problem in bad:
        err(f"đoạn âm thanh {key[:12]} hỏng ({problem}); chạy loa render để đọc lại.")
    if not bad:
        out(f"Mọi đoạn âm thanh đều tốt ({count} đoạn).")
    return 2 if bad else 0


def clips_play(args) -> int:
    clip = svc.find_clip(args.key)
    svc.play_clip(clip, args.sink, note=out)
    out(f"Đã phát {clip.hash[:12]} ({hms(clip.seconds)}).")
    return 0


def clips_prune(args) -> int:
    removed, freed = svc.prune_clips(args.schedules)
    out(f"Đã xóa {removed} đoạn âm thanh không còn dùng ({freed / 1e6:.1f} MB).")
    return 0
