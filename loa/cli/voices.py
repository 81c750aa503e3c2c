"""`loa voices`: piper voices a technician copies onto the machine."""

from __future__ import annotations

from loa.cli.show import out
from loa.station import voices as svc


def _line(v: svc.InstalledVoice) -> str:
    rate = f", {v.sample_rate} Hz" if v.sample_rate else ""
    quality = f", chất lượng {v.quality}" if v.quality else ""
    return f"{v.name} ({v.language}{quality}{rate}, {v.size / 1e6:.1f} MB)"


def voices_add(args) -> int:
    v = svc.add_voice(args.model, args.name)
    out(f"Đã kiểm tra và cài giọng đọc piper {_line(v)}.")
    out(f"Để đài dùng giọng này, ghi vào phần station của tệp lịch: {v.setting} và "
        "engines: [piper, espeak] (hoặc [gtts, piper, espeak]); rồi chạy loa validate.")
    return 0


def voices_list(args) -> int:
    found = svc.installed_voices()
    for v in found:
        out(_line(v))
    if not found:
        out("Chưa cài giọng đọc piper nào. Cài bằng: loa voices add TỆP.onnx "
            "(tệp .onnx.json đi kèm phải nằm cạnh nó).")
    else:
        out(f"{len(found)} giọng đọc piper; chọn cho đài bằng piper_model: TÊN trong tệp lịch.")
    return 0


def voices_remove(args) -> int:
    v = svc.remove_voice(args.name)
    out(f"Đã gỡ giọng đọc piper {v.name}. Đài nào còn ghi piper_model: {v.name} cần chọn "
        "giọng khác (loa validate sẽ báo).")
    return 0
