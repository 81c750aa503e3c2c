"""`loa render` and `loa clips`: clips made before air time, and their upkeep."""

from __future__ import annotations

import sys
from datetime import date

from loa import settings
from loa.clock import SystemClock


def _out(text: str = "") -> None:
    print(text, flush=True)


def _notes(store) -> None:
    """What the clip store did on its own (a corrupt index rebuilt), for the officer."""
    for note in store.take_notes():
        print(f"Cảnh báo: {note}", file=sys.stderr, flush=True)


def _hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def needed_bulletins(schedule, bulletins, today: date):
    """Approved bulletins of programs that have not ended."""
    out = {}
    for pid, pool in bulletins.items():
        prog = schedule.programs[pid]
        if prog.end is not None and prog.end < today:
            continue
        for b in pool:
            out[b.key] = b
    return list(out.values())


def render(args) -> int:
    from tqdm import tqdm

    from loa.audio.batch import render_many
    from loa.cli.commands import _load
    from loa.cli.wiring import chain_for, renderer_for

    schedule, bulletins = _load(args.schedule)
    clock = SystemClock(schedule.station.tz)
    renderer = renderer_for(schedule.station, chain_for(schedule.station, clock), mp3=args.mp3)
    _notes(renderer.store)
    needed = needed_bulletins(schedule, bulletins, clock.now().date())
    if not needed:
        _out("Lịch phát chưa có bản tin nào đã duyệt; không có gì để đọc.")
        return 0
    bar = tqdm(total=len({b.text for b in needed}), unit="bản tin", file=sys.stderr,
               disable=None, desc="Đọc bản tin")
    outcomes = render_many(renderer, [b.text for b in needed], upgrade=args.upgrade,
                           threads=args.jobs, progress=lambda o: bar.update(1))
    bar.close()
    _notes(renderer.store)
    by_text = {o.text: o for o in outcomes}
    made = [o for o in outcomes if o.clip and not o.cached]
    cached = [o for o in outcomes if o.clip and o.cached]
    failed = [o for o in outcomes if o.clip is None]
    engines: dict[str, int] = {}
    for o in outcomes:
        if o.clip:
            engines[o.clip.engine] = engines.get(o.clip.engine, 0) + 1
    airtime = sum(o.clip.seconds for o in outcomes if o.clip)
    _out(f"Đã đọc {len(made)} bản tin mới, {len(cached)} bản tin có sẵn; theo bộ đọc: "
         + ", ".join(f"{k} {v}" for k, v in sorted(engines.items()))
         + f"; tổng thời lượng {_hms(airtime)}.")
    if args.upgrade:
        upgraded = [o for o in outcomes if o.upgraded]
        _out(f"Đọc lại bằng bộ đọc tốt hơn: {len(upgraded)} bản tin.")
    fallback = [o for o in outcomes if o.clip and o.clip.fallback]
    tried = sorted({f"{f.engine} ({f.kind})" for o in outcomes for f in o.failures})
    if tried:
        _out("Không dùng được bộ đọc: " + ", ".join(tried) + ".")
    if fallback:
        _out(f"{len(fallback)} bản tin đang dùng bộ đọc dự phòng. Khi có mạng, chạy: "
             f"loa render {args.schedule} --upgrade")
    for b in needed:
        o = by_text[b.text]
        if o.clip is None:
            print(f"Lỗi: không đọc được bản tin {b.id}: {o.error}", file=sys.stderr)
    return 1 if failed else 0


def clips(args) -> int:
    from loa.audio import ClipStore

    store = ClipStore(settings.clips_dir())
    _notes(store)
    try:
        if args.clips_command == "list":
            rows = store.all()
            for clip, text, used in rows:
                mark = " (dự phòng)" if clip.fallback else ""
                _out(f"{clip.hash[:12]}  {clip.engine:7}{mark:11} {_hms(clip.seconds)}  "
                     f"{clip.lufs if clip.lufs is not None else '?':>7} LUFS  {used[:16]}  "
                     f"{text[:60] if text else '(không rõ lời: chỉ mục đã dựng lại)'}")
            _out(f"{len(rows)} đoạn âm thanh, tổng {_hms(sum(c.seconds for c, _, _ in rows))}.")
            return 0
        if args.clips_command == "check":
            bad = store.check()
            _notes(store)
            for key, problem in bad:
                print(f"Lỗi: đoạn âm thanh {key[:12]} hỏng ({problem}); chạy loa render để "
                      "đọc lại.", file=sys.stderr)
            if not bad:
                _out(f"Mọi đoạn âm thanh đều tốt ({len(store.all())} đoạn).")
            return 2 if bad else 0
        if args.clips_command == "play":
            return _play(store, args)
        if args.clips_command == "prune":
            return _prune(store, args)
    finally:
        store.close()
    return 2


def _play(store, args) -> int:
    from loa.audio import read_wav
    from loa.cli.wiring import sink_factory
    from loa.errors import LoaError

    matches = [c for c, _, _ in store.all() if c.hash.startswith(args.key)]
    if len(matches) != 1:
        raise LoaError(f"mã '{args.key}' khớp {len(matches)} đoạn âm thanh; xem loa clips list.")
    sink_for, note = sink_factory(args.sink, None)
    _out(note)
    samples, rate = read_wav(matches[0].path)
    sink_for("default").play(samples, rate, f"clip_{matches[0].hash[:12]}")
    _out(f"Đã phát {matches[0].hash[:12]} ({_hms(matches[0].seconds)}).")
    return 0


def _prune(store, args) -> int:
    from loa.cli.commands import _load
    from loa.cli.wiring import chain_for, renderer_for

    keep: set[str] = set()
    for path in args.schedules:
        schedule, bulletins = _load(path)
        renderer = renderer_for(schedule.station, chain_for(schedule.station))
        today = SystemClock(schedule.station.tz).now().date()
        for b in needed_bulletins(schedule, bulletins, today):
            spoken = renderer.normalize(b.text)
            keep.update(renderer.key(spoken, e) for e in renderer.chain.engines)
    removed, freed = store.prune(keep)
    _out(f"Đã xóa {removed} đoạn âm thanh không còn dùng ({freed / 1e6:.1f} MB).")
    return 0
