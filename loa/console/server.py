"""`loa serve`: the console on waitress, a pure-Python production WSGI server that runs the
same on a Raspberry Pi, a commune PC and the province server."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from loa.errors import LoaError

# a plan is at most 20 MB (checked with a Vietnamese message in the page); waitress drops
# anything far bigger before it reaches Django
MAX_REQUEST_BYTES = 64 * 1024 * 1024


def lan_addresses() -> list[str]:
    """The machine's IPv4 addresses other than loopback, for the "open this on a phone" line."""
    found: list[str] = []
    # the address the default route leaves from (a UDP "connect" sends nothing): Debian and
    # Raspberry Pi OS map the host name to 127.0.1.1, so the name alone finds no LAN address
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            addr = probe.getsockname()[0]
            if not addr.startswith(("127.", "0.")):
                found.append(addr)
    except OSError:
        pass
    try:
        named = [info[4][0] for info in
                 socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    except OSError:
        named = []
    if not named or all(a.startswith("127.") for a in named):
        # a LAN with no gateway (no default route): every interface's address, from Debian's
        # `hostname -I`
        import subprocess

        try:
            named += subprocess.run(["hostname", "-I"], capture_output=True, text=True,
                                    timeout=5).stdout.split()
        except (OSError, subprocess.SubprocessError):
            pass
    for addr in named:
        if "." in addr and not addr.startswith("127.") and addr not in found:
            found.append(addr)
    return found


def prepare(schedule: str | Path | None, database: str | None = None) -> int:
    """Set Django up for `schedule` (None: a province/commune server with no schedule of
    its own) on SQLite or `database` (postgresql://...), create/upgrade the console's
    tables; return how many accounts exist (0: the officer must run `loa users add` first)."""
    path = None
    if schedule is not None:
        path = Path(schedule)
        if not path.is_file():
            raise LoaError("không có tệp lịch phát này.", path)
    use_database(database)
    from loa.console import migrate, setup

    setup(path)
    try:
        migrate()
        from django.contrib.auth import get_user_model

        return get_user_model().objects.filter(is_active=True).count()
    except Exception as exc:
        raise database_error(exc) from None


def use_database(database: str | None) -> None:
    """Point this process's Django at `database` (before django.setup); check its form."""
    if not database:
        return
    from loa.console.dburl import database_from_url

    try:
        database_from_url(database)
    except ValueError:
        raise LoaError("địa chỉ cơ sở dữ liệu phải có dạng "
                       "postgresql://người_dùng:mật_khẩu@máy:cổng/tên_csdl.") from None
    os.environ["LOA_DATABASE_URL"] = database


def database_error(exc: Exception) -> Exception:
    """A database that cannot be reached, in Vietnamese (the URL's password never shown)."""
    from django.db import DatabaseError

    if not isinstance(exc, DatabaseError):
        return exc
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql"):
        where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db.get('NAME')}"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return LoaError(f"không kết nối được cơ sở dữ liệu PostgreSQL {where}: {first}")
    return LoaError(f"không mở được cơ sở dữ liệu của trang quản lý: {exc}")


def serve(schedule: str | Path | None, host: str, port: int, threads: int = 6) -> None:
    """Serve until stopped (Ctrl+C, SIGTERM)."""
    from waitress.server import create_server

    from loa.console.wsgi import application

    proxy = {}
    if os.environ.get("LOA_HTTPS") == "1":
        # behind Caddy/nginx on this machine: believe its X-Forwarded-Proto/-For (and only
        # its), so Django sees https and the officer's address; nobody else can set them
        proxy = {"trusted_proxy": os.environ.get("LOA_TRUSTED_PROXY", "127.0.0.1"),
                 "trusted_proxy_headers": {"x-forwarded-proto", "x-forwarded-for"},
                 "trusted_proxy_count": 1}
    try:
        server = create_server(application, host=host, port=port, threads=threads,
                               max_request_body_size=MAX_REQUEST_BYTES,
                               # a province server holds many players' keep-alive connections:
                               # waitress's default 100 starved uploads behind idle ones
                               connection_limit=2000, channel_timeout=60,
                               # poll(), not select(): select() fails past file descriptor
                               # 1024, and a thousand players' connections get there
                               asyncore_use_poll=True,
                               ident="loa", clear_untrusted_proxy_headers=True, **proxy)
    except OSError as exc:
        if exc.errno in (98, 48):  # EADDRINUSE (Linux, BSD)
            raise LoaError(f"cổng {port} đang có chương trình khác dùng (có thể loa serve đã "
                           "chạy rồi). Dùng --port để chọn cổng khác.") from None
        raise LoaError(f"không mở được địa chỉ {host}:{port}: {exc.strerror}.") from None
    server.run()
