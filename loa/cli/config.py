"""`loa config SCHEDULE`: the configuration loa really uses, defaults marked."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    cfg = sub.add_parser("config", help="in cấu hình thực tế của lịch phát (đánh dấu giá trị "
                                        "mặc định)")
    cfg.add_argument("schedule", metavar="LỊCH", help="tệp lịch phát YAML")
    cfg.set_defaults(func=show)


def show(args) -> int:
    from loa.errors import LoaError
    from loa.schedule.config import effective_yaml
    from loa.schedule.load import read_schedule

    config, problems = read_schedule(args.schedule)
    if problems:
        raise LoaError.many(sorted(problems, key=lambda p: p.line or 0))
    sys.stdout.write(effective_yaml(config))
    return 0
