"""`loa serve` and `loa users`: the station console and its accounts."""

from __future__ import annotations

import getpass
import sys

from loa.errors import LoaError


def add_parsers(sub) -> None:
    srv = sub.add_parser("serve", help="mở trang quản lý đài (xem và làm trên điện thoại, máy tính)")
    srv.add_argument("schedule", metavar="LỊCH", nargs="?",
                     help="tệp lịch phát YAML của đài (bỏ trống khi chạy máy chủ tỉnh/xã "
                          "với --database)")
    srv.add_argument("--host", default="0.0.0.0", metavar="ĐỊA_CHỈ",
                     help="địa chỉ nghe (mặc định 0.0.0.0: mọi máy trong mạng LAN; "
                          "127.0.0.1: chỉ máy này, dùng khi có Caddy/nginx phía trước)")
    srv.add_argument("--port", type=int, default=8080, metavar="CỔNG",
                     help="cổng (mặc định 8080)")
    srv.add_argument("--database", metavar="ĐỊA_CHỈ",
                     help="máy chủ tỉnh/xã: cơ sở dữ liệu PostgreSQL, dạng "
                          "postgresql://người_dùng:mật_khẩu@máy:cổng/tên_csdl (mặc định: "
                          "SQLite trên máy này)")
    srv.add_argument("--mqtt", metavar="ĐỊA_CHỈ",
                     help="máy chủ tỉnh/xã: Mosquitto để đẩy tin khẩn cấp tới cụm loa, dạng "
                          "mqtt://quản_trị:mật_khẩu@máy:cổng (tài khoản quản trị "
                          "dynamic-security)")
    srv.add_argument("--mqtt-public", metavar="ĐỊA_CHỈ",
                     help="địa chỉ Mosquitto mà cụm loa dùng, nếu khác --mqtt "
                          "(ví dụ mqtts://loa.tinh.gov.vn:8883)")
    srv.add_argument("--threads", type=int, default=8, metavar="SỐ",
                     help="số luồng phục vụ (mặc định 8)")
    srv.set_defaults(func=serve)

    users = sub.add_parser("users", help="tài khoản của trang quản lý").add_subparsers(
        dest="users_command", metavar="LỆNH", required=True, title="lệnh")
    add = users.add_parser("add", help="tạo tài khoản (người đầu tiên: --role admin)")
    add.add_argument("username", metavar="TÊN_ĐĂNG_NHẬP")
    add.add_argument("--role", action="append", required=True, metavar="VAI_TRÒ",
                     help="editor (biên tập), leader (lãnh đạo), technician (kỹ thuật), "
                          "admin (quản trị); ghi nhiều lần nếu một người giữ nhiều vai trò")
    add.add_argument("--name", default="", metavar="HỌ_TÊN", help="họ tên đầy đủ")
    add.add_argument("--password-stdin", action="store_true",
                     help="đọc mật khẩu từ đầu vào chuẩn (dùng trong kịch bản)")
    add.add_argument("--database", metavar="ĐỊA_CHỈ", help="cơ sở dữ liệu PostgreSQL của "
                     "máy chủ tỉnh/xã (như loa serve --database)")
    add.set_defaults(func=users_add)
    pw = users.add_parser("passwd", help="đặt lại mật khẩu một tài khoản")
    pw.add_argument("username", metavar="TÊN_ĐĂNG_NHẬP")
    pw.add_argument("--password-stdin", action="store_true",
                    help="đọc mật khẩu từ đầu vào chuẩn")
    pw.add_argument("--database", metavar="ĐỊA_CHỈ", help="cơ sở dữ liệu PostgreSQL của "
                    "máy chủ tỉnh/xã")
    pw.set_defaults(func=users_passwd)
    ls = users.add_parser("list", help="liệt kê tài khoản")
    ls.add_argument("--database", metavar="ĐỊA_CHỈ", help="cơ sở dữ liệu PostgreSQL của "
                    "máy chủ tỉnh/xã")
    ls.set_defaults(func=users_list)


def _setup(database: str | None = None) -> None:
    from loa.console import migrate, setup
    from loa.console.server import database_error, use_database

    use_database(database)
    setup()
    try:
        migrate()
    except Exception as exc:
        raise database_error(exc) from None


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n") if sys.stdin else ""
    if sys.stdin is None or not sys.stdin.isatty():  # None: started with stdin closed
        raise LoaError("không có bàn phím để nhập mật khẩu; dùng --password-stdin.")
    first = getpass.getpass("Mật khẩu: ")
    if getpass.getpass("Nhập lại mật khẩu: ") != first:
        raise LoaError("hai lần nhập mật khẩu không giống nhau.")
    return first


def users_add(args) -> int:
    from loa.console.accounts.roles import ROLES
    from loa.console.accounts.users import add_user, check_roles

    check_roles(args.role)  # before asking for a password
    _setup(args.database)
    acc = add_user(args.username, _password(args.password_stdin), args.role, args.name)
    roles = ", ".join(ROLES[r] for r in acc.roles)
    print(f"Đã tạo tài khoản {acc.username}" + (f" ({acc.full_name})" if acc.full_name else "")
          + f", vai trò: {roles}.")
    return 0


def users_passwd(args) -> int:
    from loa.console.accounts.users import set_password

    _setup(args.database)
    set_password(args.username, _password(args.password_stdin))
    print(f"Đã đặt lại mật khẩu cho {args.username}.")
    return 0


def users_list(args) -> int:
    from loa.console.accounts.roles import ROLES
    from loa.console.accounts.users import list_users

    _setup(args.database)
    accounts = list_users()
    if not accounts:
        print("Chưa có tài khoản nào. Tạo người quản trị đầu tiên:\n"
              "  loa users add TÊN --role admin --role editor --name \"Họ tên\"")
        return 0
    for a in accounts:
        roles = ", ".join(ROLES[r] for r in a.roles) or "chưa có vai trò"
        state = "" if a.active else " (đã khóa)"
        print(f"{a.username:<16} {a.full_name or '-':<28} {roles}{state}")
    return 0


def serve(args) -> int:
    from loa.console.server import lan_addresses, prepare
    from loa.console.server import serve as run_server

    if args.schedule is None and not args.database:
        raise LoaError("cần tệp lịch phát của đài (loa serve LỊCH.yaml), hoặc --database "
                       "postgresql://... để chạy máy chủ tỉnh/xã.")
    if args.mqtt and not args.database:
        raise LoaError("--mqtt chỉ dùng cho máy chủ tỉnh/xã (cần thêm --database).")
    accounts = prepare(args.schedule, args.database)
    if not accounts:
        print("Chưa có tài khoản nào: tạo người quản trị đầu tiên bằng\n"
              "  loa users add TÊN --role admin --role editor --name \"Họ tên\"", file=sys.stderr)
    bus = None
    if args.mqtt:
        from loa.console.fleet import bus as fleet_bus

        bus = fleet_bus.start(args.mqtt, args.mqtt_public)
        print("Đã kết nối máy chủ MQTT: tin khẩn cấp được đẩy tới cụm loa.", flush=True)
    hosts = lan_addresses() if args.host in ("0.0.0.0", "") else [args.host]
    what = "Trang quản lý đài" if args.schedule else "Máy chủ truyền thanh"
    for h in hosts or ["127.0.0.1"]:
        print(f"{what}: http://{h}:{args.port}/", flush=True)
    print("Dừng bằng Ctrl+C.", flush=True)
    try:
        run_server(args.schedule, args.host, args.port, threads=args.threads)
    except KeyboardInterrupt:
        pass
    finally:
        if bus is not None:
            fleet_bus.stop(bus)
    return 0
