"""The player's side of a server: `loa enroll URL CODE`, and `loa run --server URL`."""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from pathlib import Path

from loa.errors import LoaError


def out(line: str) -> None:
    print(line, flush=True)


def add_parsers(sub, run) -> None:
    """`loa enroll`; `--server`/`--token` on `loa run` (its LỊCH then optional)."""
    en = sub.add_parser("enroll", help="đăng ký máy này (cụm loa) với máy chủ của tỉnh/xã "
                                       "bằng mã đăng ký một lần")
    en.add_argument("url", metavar="ĐỊA_CHỈ", help="địa chỉ máy chủ, ví dụ https://loa.tinh.vn")
    en.add_argument("code", metavar="MÃ", help="mã đăng ký do cán bộ xã/tỉnh cấp")
    en.set_defaults(func=enroll)
    for action in run._actions:
        if action.dest == "schedule":
            action.nargs, action.default = "?", None
    run.add_argument("--server", metavar="ĐỊA_CHỈ",
                     help="phát theo lịch của máy chủ (đã đăng ký bằng loa enroll)")
    run.add_argument("--token", metavar="MÃ_THIẾT_BỊ",
                     help="mã thiết bị (mặc định: mã đã lưu khi loa enroll; hoặc đặt trong "
                          "biến môi trường, xem docs/fleet-player.md)")


def enroll(args) -> int:
    from loa import __version__, settings
    from loa.fleet.client import Client, Offline, RateLimited, Refused, Revoked
    from loa.fleet.follower import Device, save_device

    client = Client(args.url)
    try:
        got = client.enroll(args.code.strip(), socket.gethostname(), __version__)
    except Offline as exc:
        raise LoaError(f"{exc}. Hãy kiểm tra mạng và địa chỉ máy chủ rồi thử lại.") from None
    except (Revoked, Refused, RateLimited) as exc:
        raise LoaError(f"máy chủ không nhận mã đăng ký: {exc}") from None
    try:
        device = Device(url=client.url, device=str(got["device"]), token=str(got["token"]),
                        name=str(got.get("name") or ""), station=got.get("station") or {},
                        zones=[str(z) for z in got.get("zones") or []], mqtt=got.get("mqtt"))
    except (KeyError, TypeError):
        raise LoaError("máy chủ trả lời đăng ký thiếu thông tin (mã thiết bị, mã truy cập).") \
            from None
    path = save_device(settings.data_dir(), device)
    station = device.station.get("name") if isinstance(device.station, dict) else ""
    out(f"Đã đăng ký máy này với máy chủ {client.url}: cụm loa «{device.name}»"
        + (f" của {station}" if station else "") + ".")
    out(f"Mã truy cập của thiết bị được lưu trong {path}, chỉ người dùng chạy loa đọc được "
        "(quyền 0600). Chạy: loa run --server " + client.url)
    return 0


def run_server(args, report=out) -> int:
    """`loa run --server URL [--token T]`: the daemon on the server's bundle."""
    from loa import settings
    from loa.clock import SystemClock
    from loa.fleet.client import base_url
    from loa.fleet.follower import Device, Follower, load_device
    from loa.station.runner import run_daemon

    if args.schedule:
        raise LoaError("với --server, lịch phát đến từ máy chủ: bỏ tên tệp lịch đi.")
    data = settings.data_dir()
    url = base_url(args.server)
    device = load_device(data)
    token = args.token or os.environ.get("LOA_TOKEN") or (device.token if device else None)
    if not token:
        raise LoaError("máy này chưa đăng ký với máy chủ: chạy loa enroll ĐỊA_CHỈ MÃ trước, "
                       "hoặc cho mã thiết bị bằng --token.")
    if device is None:
        device = Device(url=url, device="", token=token)
    elif device.url != url:
        report(f"Lưu ý: máy này đăng ký với {device.url}, nay chạy theo {url}.")
    follower = Follower(data, device, url=url, token=token, report=report)
    until = (SystemClock().now() + timedelta(seconds=args.run_for) if args.run_for else None)
    run_daemon(None, args.sink, Path(args.wav_dir) if args.wav_dir else None, until,
               args.until_idle, report=report, trust_sync=not args.no_time_sync,
               fast=args.fast, follower=follower)
    return 0
