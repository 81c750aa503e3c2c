"""`loa config SCHEDULE`: the configuration loa really uses, defaults marked."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    cfg = sub.add_parser("config", help="in cấu hình thực tế của lịch phát (đánh dấu giá trị "
                                        "mặc định)")
    cfg.add_argument("schedule", metavar="LỊCH", help="tệp lịch phát YAML")
    cfg.set_defaults(func=show)


def show(args) -> int:
    from loa import station as svc

    sys.stdout.write(svc.effective_config(args.schedule))
    return 0
