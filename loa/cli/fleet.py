"""`loa fleet ...`: the province/commune server's stations, devices and emergencies, on
the same database as `loa serve --database` (or LOA_DATABASE_URL)."""

from __future__ import annotations

from loa.cli.vi_argparse import FLOAT
from loa.errors import LoaError


def add_parsers(sub) -> None:
    fl = sub.add_parser("fleet", help="máy chủ tỉnh/xã: đài, cụm loa, gói phát, tin khẩn cấp")
    fl.add_argument("--database", metavar="ĐỊA_CHỈ",
                    help="cơ sở dữ liệu PostgreSQL như loa serve --database (mặc định: "
                         "theo biến môi trường như loa serve, hoặc SQLite trên máy này)")
    cmds = fl.add_subparsers(dest="fleet_command", metavar="LỆNH", required=True, title="lệnh")

    pv = cmds.add_parser("province", help="tỉnh").add_subparsers(
        dest="province_command", metavar="LỆNH", required=True, title="lệnh")
    pa = pv.add_parser("add", help="thêm một tỉnh")
    pa.add_argument("slug", metavar="MÃ", help="mã tỉnh, chữ thường không dấu, ví dụ binh-phuoc")
    pa.add_argument("--name", required=True, metavar="TÊN", help="tên tỉnh")
    pa.set_defaults(func=province_add)

    st = cmds.add_parser("station", help="đài truyền thanh xã").add_subparsers(
        dest="station_command", metavar="LỆNH", required=True, title="lệnh")
    sa = st.add_parser("add", help="thêm một đài")
    sa.add_argument("slug", metavar="MÃ", help="mã đài, ví dụ xa-ba-vi")
    sa.add_argument("--name", required=True, metavar="TÊN", help="tên đài")
    sa.add_argument("--province", metavar="MÃ_TỈNH", help="tỉnh của đài")
    sa.add_argument("--tz", default="Asia/Ho_Chi_Minh", metavar="MÚI_GIỜ",
                    help="múi giờ (mặc định Asia/Ho_Chi_Minh)")
    sa.set_defaults(func=station_add)
    sp = st.add_parser("publish", help="đọc trước các bản tin đã duyệt của lịch, gửi lịch và "
                                       "âm thanh thành gói phát mới cho các cụm loa của đài")
    sp.add_argument("slug", metavar="MÃ", help="mã đài")
    sp.add_argument("schedule", metavar="LỊCH", help="tệp lịch phát YAML của đài")
    sp.set_defaults(func=station_publish)
    cmds.add_parser("stations", help="liệt kê các đài").set_defaults(func=stations_list)

    cd = cmds.add_parser("code", help="tạo mã đăng ký dùng một lần cho một cụm loa")
    cd.add_argument("station", metavar="MÃ_ĐÀI")
    cd.add_argument("--name", required=True, metavar="TÊN",
                    help="tên cụm loa, ví dụ \"Cụm loa thôn Đoài\"")
    cd.add_argument("--zone", action="append", default=[], metavar="VÙNG",
                    help="mã vùng phát cụm loa này phát (ghi nhiều lần nếu nhiều vùng)")
    cd.add_argument("--hours", type=FLOAT, default=24, metavar="GIỜ",
                    help="mã hết hạn sau chừng này giờ (mặc định 24)")
    cd.set_defaults(func=code)

    dv = cmds.add_parser("devices", help="liệt kê cụm loa")
    dv.add_argument("station", nargs="?", metavar="MÃ_ĐÀI", help="chỉ các cụm loa của đài này")
    dv.set_defaults(func=devices)
    rv = cmds.add_parser("revoke", help="thu hồi mã của một cụm loa (không đồng bộ được nữa)")
    rv.add_argument("device", metavar="MÃ_CỤM_LOA", help="mã cụm loa, ví dụ d-3fa2c91b0e")
    rv.set_defaults(func=revoke)

    em = cmds.add_parser("emergency", help="gửi tin khẩn cấp tới các đài hoặc cụm loa")
    em.add_argument("text", metavar="LỜI", help="lời tin khẩn cấp")
    em.add_argument("--title", default="", metavar="TIÊU_ĐỀ", help="tiêu đề")
    em.add_argument("--station", action="append", default=[], metavar="MÃ_ĐÀI",
                    help="mọi cụm loa của đài này (ghi nhiều lần)")
    em.add_argument("--device", action="append", default=[], metavar="MÃ_CỤM_LOA",
                    help="một cụm loa (ghi nhiều lần)")
    em.add_argument("--all", action="store_true", help="mọi đài trên máy chủ")
    em.add_argument("--zone", action="append", default=[], metavar="VÙNG",
                    help="chỉ phát ở vùng này của mỗi cụm loa (mặc định: mọi vùng)")
    em.set_defaults(func=emergency)

    sc = cmds.add_parser("scope", help="tài khoản xem được những đài nào: cả tỉnh hoặc một đài")
    sc.add_argument("username", metavar="TÊN_ĐĂNG_NHẬP")
    g = sc.add_mutually_exclusive_group(required=True)
    g.add_argument("--province", metavar="MÃ_TỈNH", help="mọi đài của tỉnh này")
    g.add_argument("--station", metavar="MÃ_ĐÀI", help="chỉ đài này")
    sc.set_defaults(func=scope)


def _setup(args) -> None:
    from loa.cli.console import _setup as setup

    setup(getattr(args, "database", None))


def province_add(args) -> int:
    _setup(args)
    from loa.console.fleet import service

    p = service.add_province(args.slug, args.name)
    print(f"Đã thêm tỉnh {p.name} ({p.slug}).")
    return 0


def station_add(args) -> int:
    _setup(args)
    from loa.console.fleet import service

    s = service.add_station(args.slug, args.name, args.province, args.tz)
    where = f", thuộc {s.province.name}" if s.province else ""
    print(f"Đã thêm đài {s.name} ({s.slug}){where}.")
    return 0


def station_publish(args) -> int:
    _setup(args)
    from loa.cli.show import shown, warn
    from loa.console.fleet import service

    st = service.station(args.slug)
    bundle, warnings = service.publish(st, args.schedule, by="cli", note=warn)
    for w in warnings:
        warn(shown(w))
    clips = bundle.manifest["clips"]
    from loa.languages import lower_name

    other: dict[str, int] = {}
    for c in clips:
        if c["lang"] != "vi":
            other[c["lang"]] = other.get(c["lang"], 0) + 1
    of = "".join(f", {n} bản {lower_name(lang)}" for lang, n in sorted(other.items()))
    print(f"Đã gửi gói phát cho {st.name}: {len(bundle.manifest['files'])} tệp, "
          f"{len(clips)} đoạn âm thanh{' (gồm' + of[1:] + ')' if of else ''} "
          f"(phiên bản {bundle.etag[:12]}). Các cụm loa sẽ tải trong vòng một phút.")
    return 0


def stations_list(args) -> int:
    _setup(args)
    from django.db.models import Count, Q

    from loa.console.fleet.models import Station

    rows = (Station.objects.select_related("province")
            .annotate(n=Count("devices", filter=Q(devices__revoked_at__isnull=True))))
    if not rows:
        print("Chưa có đài nào. Thêm đài: loa fleet station add MÃ --name \"Tên đài\"")
        return 0
    for s in rows:
        prov = s.province.name if s.province else "-"
        print(f"{s.slug:<20} {s.name:<36} {prov:<20} {s.n} cụm loa")
    return 0


def code(args) -> int:
    _setup(args)
    from loa.console.fleet import service

    st = service.station(args.station)
    c = service.create_enroll_code(st, args.name, args.zone, args.hours)
    zones = ", ".join(args.zone) or "mọi vùng của đài"
    print(f"Mã đăng ký cho {args.name} ({st.name}; vùng: {zones}), dùng một lần, hết hạn sau "
          f"{args.hours:g} giờ:")
    print(c)
    print("Trên máy phát chạy: loa enroll ĐỊA_CHỈ_MÁY_CHỦ " + c)
    return 0


def devices(args) -> int:
    _setup(args)
    from loa.console.fleet.models import Device

    qs = Device.objects.select_related("station")
    if args.station:
        from loa.console.fleet import service

        qs = qs.filter(station=service.station(args.station))
    if not qs.exists():
        print("Chưa có cụm loa nào.")
        return 0
    for d in qs:
        state = "đã thu hồi" if d.revoked_at else (
            f"nhịp tim {d.heartbeat_at.astimezone():%d/%m %H:%M}" if d.heartbeat_at
            else "chưa gửi nhịp tim")
        print(f"{d.id:<13} {d.station.name:<28} {d.name:<30} {state}")
    return 0


def revoke(args) -> int:
    _setup(args)
    from loa.console.fleet import service

    d = service.revoke_device(args.device)
    print(f"Đã thu hồi {d.name} ({d.station.name}): cụm loa này không đồng bộ được nữa "
          "(vẫn phát gói phát cuối cùng nó có).")
    return 0


def emergency(args) -> int:
    _setup(args)
    from loa.console.fleet import service
    from loa.console.fleet.models import Station

    stations = (list(Station.objects.all()) if args.all
                else [service.station(s) for s in args.station])
    if not stations and not args.device:
        raise LoaError("chọn nơi nhận: --station MÃ_ĐÀI, --device MÃ_CỤM_LOA hoặc --all.")
    e = service.send_emergency(None, args.title, args.text, stations=stations,
                               devices=args.device, zones=args.zone)
    n = e.deliveries.count()
    print(f"Đã gửi tin khẩn cấp “{e.title}” tới {n} cụm loa (mã {e.id}). Cụm loa xác nhận "
          "khi nhận, khi bắt đầu và khi phát xong; xem ở trang Tin khẩn cấp.")
    return 0


def scope(args) -> int:
    _setup(args)
    from django.contrib.auth import get_user_model

    from loa.console.fleet import service

    user = get_user_model().objects.filter(username__iexact=args.username).first()
    if user is None:
        raise LoaError(f"không có tài khoản '{args.username}' (tạo bằng loa users add).")
    if args.province:
        p = service.province(args.province)
        service.set_scope(user, province=p)
        print(f"{user.username} xem được mọi đài của {p.name}.")
    else:
        s = service.station(args.station)
        service.set_scope(user, station=s)
        print(f"{user.username} chỉ xem được {s.name}.")
    return 0

