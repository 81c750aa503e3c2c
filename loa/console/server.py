"""`loa serve`: the console on waitress, a pure-Python production WSGI server that runs the
same on a Raspberry Pi, a commune PC and the province server."""

from __future__ import annotations

import socket
from pathlib import Path

from loa.errors import LoaError

# a plan is at most 20 MB (checked with a Vietnamese message in the page); waitress drops
# anything far bigger before it reaches Django
MAX_REQUEST_BYTES = 64 * 1024 * 1024


def lan_addresses() -> list[str]:
    """The machine's IPv4 addresses other than loopback, for the "open this on a phone" line."""
    found: list[str] = []
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            addr = info[4][0]
            if not addr.startswith("127.") and addr not in found:
                found.append(addr)
    except OSError:
        pass
    return found


def prepare(schedule: str | Path) -> int:
    """Set Django up for `schedule`, create/upgrade the console's tables; return how many
    accounts exist (0: the officer must run `loa users add` first)."""
    path = Path(schedule)
    if not path.is_file():
        raise LoaError("không có tệp lịch phát này.", path)
    from loa.console import migrate, setup

    setup(path)
    migrate()
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(is_active=True).count()


def serve(schedule: str | Path, host: str, port: int, threads: int = 6) -> None:
    """Serve until stopped (Ctrl+C, SIGTERM)."""
    from waitress.server import create_server

    from loa.console.wsgi import application

    try:
        server = create_server(application, host=host, port=port, threads=threads,
                               max_request_body_size=MAX_REQUEST_BYTES,
                               ident="loa", clear_untrusted_proxy_headers=True)
    except OSError as exc:
        if exc.errno in (98, 48):  # EADDRINUSE (Linux, BSD)
            raise LoaError(f"cổng {port} đang có chương trình khác dùng (có thể loa serve đã "
                           "chạy rồi). Dùng --port để chọn cổng khác.") from None
        raise LoaError(f"không mở được địa chỉ {host}:{port}: {exc.strerror}.") from None
    server.run()
