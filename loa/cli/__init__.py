"""The `loa` command: parses, calls loa.station, prints Vietnamese; no stage imports it."""

from __future__ import annotations

import logging
import sys

from loa import __version__
from loa.cli.vi_argparse import FLOAT, INT, Parser
from loa.errors import LoaError

SINKS = ["auto", "device", "wav"]


def build_parser() -> Parser:
    from loa.cli import clips as k
    from loa.cli import commands as c
    from loa.cli import voices as vo

    p = Parser(
        prog="loa",
        description="loa: đài truyền thanh xã tự động — từ kế hoạch tuyên truyền đến loa thôn.",
    )
    p.add_argument("--version", action="version", version=f"loa {__version__}",
                   help="in số phiên bản rồi thoát")
    p.add_argument("-v", "--verbose", action="store_true", help="in nhật ký kỹ thuật (tiếng Anh)")
    sub = p.add_subparsers(dest="command", metavar="LỆNH", title="lệnh")

    plan = sub.add_parser("plan", help="đọc kế hoạch tuyên truyền").add_subparsers(
        dest="plan_command", metavar="LỆNH", required=True, title="lệnh")
    imp = plan.add_parser("import", help="tìm các nội dung tuyên truyền, soạn bản tin nháp")
    imp.add_argument("plan", metavar="KẾ_HOẠCH", nargs="+",
                     help="tệp kế hoạch (.txt, .docx, .doc, .odt, .rtf, .pdf, kể cả PDF quét), "
                          "hoặc các ảnh chụp từng trang (.jpg, .png …) theo thứ tự trang; tệp "
                          "đầu đặt tên kế hoạch")
    imp.add_argument("-o", "--output", metavar="TỆP", help="tệp bản tin YAML sẽ ghi ra")
    imp.add_argument("--section", metavar="MỤC",
                     help="chọn mục khác làm nội dung (ví dụ IV hoặc II.2)")
    imp.add_argument("--json", action="store_true", help="in các nội dung dạng JSON")
    imp.add_argument("--template", metavar="TỆP", help="tệp mẫu lời bản tin của đài (YAML)")
    imp.add_argument("--station", metavar="TÊN_ĐÀI", help="tên đài đọc trong bản tin")
    imp.add_argument("--schedule", metavar="LỊCH",
                     help="lấy tên đài và mẫu bản tin (station.template) từ tệp lịch phát")
    imp.set_defaults(func=c.plan_import)
    show = plan.add_parser("show", help="in dàn ý kế hoạch, đánh dấu phần nội dung")
    show.add_argument("plan", metavar="KẾ_HOẠCH", nargs="+",
                      help="tệp kế hoạch, hoặc các ảnh chụp từng trang theo thứ tự")
    show.add_argument("--section", metavar="MỤC", help="mục nội dung muốn đánh dấu")
    show.set_defaults(func=c.plan_show)
    txt = plan.add_parser("text", help="in văn bản kế hoạch đã làm sạch, nối dòng")
    txt.add_argument("plan", metavar="KẾ_HOẠCH", nargs="+",
                     help="tệp kế hoạch, hoặc các ảnh chụp từng trang theo thứ tự")
    txt.set_defaults(func=c.plan_text)
    rep = plan.add_parser("repair", help="khôi phục dấu tiếng Việt cho kế hoạch .txt bị mất "
                                         "dấu hoặc nhận dạng sai, ghi ra tệp mới")
    rep.add_argument("plan", metavar="KẾ_HOẠCH", help="tệp kế hoạch .txt bị lỗi chữ")
    rep.add_argument("-o", "--output", metavar="TỆP", required=True,
                     help="tệp .txt đã sửa sẽ ghi ra (không được trùng tệp gốc)")
    rep.set_defaults(func=c.plan_repair)

    bul = sub.add_parser("bulletin", help="xem, sửa và duyệt bản tin").add_subparsers(
        dest="bulletin_command", metavar="LỆNH", required=True, title="lệnh")
    bl = bul.add_parser("list", help="liệt kê bản tin và trạng thái")
    bl.add_argument("file", metavar="TỆP", help="tệp bản tin YAML")
    bl.set_defaults(func=c.bulletin_list)
    bs = bul.add_parser("show", help="in một bản tin: tiêu đề, trạng thái, lời đọc")
    bs.add_argument("file", metavar="TỆP", help="tệp bản tin YAML")
    bs.add_argument("id", metavar="MÃ", help="mã bản tin, ví dụ IV.1.a")
    bs.set_defaults(func=c.bulletin_show)
    be = bul.add_parser("edit", help="sửa tiêu đề hoặc lời bản tin (bản tin đã duyệt phải "
                                     "duyệt lại mới được phát)")
    be.add_argument("file", metavar="TỆP", help="tệp bản tin YAML")
    be.add_argument("id", metavar="MÃ", help="mã bản tin, ví dụ IV.1.a")
    be.add_argument("--title", metavar="TIÊU_ĐỀ", help="tiêu đề mới")
    be.add_argument("--text", metavar="LỜI", help="lời đọc mới")
    be.set_defaults(func=c.bulletin_edit)
    bu = bul.add_parser("submit", help="gửi bản tin cho lãnh đạo duyệt")
    bu.add_argument("file", metavar="TỆP", help="tệp bản tin YAML")
    bu.add_argument("ids", nargs="+", metavar="MÃ", help="mã bản tin, ví dụ IV.1.a")
    bu.add_argument("--by", metavar="HỌ_TÊN",
                    help="họ tên người gửi (mặc định: tên tài khoản máy đang dùng)")
    bu.add_argument("--lang", metavar="NGÔN_NGỮ",
                    help="gửi duyệt bản tiếng dân tộc (mã ngôn ngữ, ví dụ hmn)")
    bu.set_defaults(func=c.bulletin_submit)
    ba = bul.add_parser("approve", help="duyệt bản tin để được phát (ghi tài khoản máy)")
    ba.add_argument("file", metavar="TỆP", help="tệp bản tin YAML")
    ba.add_argument("ids", nargs="+", metavar="MÃ", help="mã bản tin, ví dụ IV.1.a")
    ba.add_argument("--by", metavar="HỌ_TÊN",
                    help="họ tên người duyệt (mặc định: tên tài khoản máy đang dùng)")
    ba.add_argument("--force", action="store_true",
                    help="duyệt cả khi chữ có vẻ bị lỗi (mất dấu, nhận dạng sai)")
    ba.add_argument("--lang", metavar="NGÔN_NGỮ",
                    help="duyệt bản tiếng dân tộc (mã ngôn ngữ, ví dụ hmn) thay cho bản tiếng Việt")
    ba.set_defaults(func=c.bulletin_approve)
    bt = bul.add_parser("return", help="trả lại bản tin cho người biên tập, kèm lý do")
    bt.add_argument("file", metavar="TỆP", help="tệp bản tin YAML")
    bt.add_argument("id", metavar="MÃ", help="mã bản tin, ví dụ IV.1.a")
    bt.add_argument("--note", required=True, metavar="LÝ_DO", help="cần sửa gì")
    bt.add_argument("--by", metavar="HỌ_TÊN",
                    help="họ tên người trả lại (mặc định: tên tài khoản máy đang dùng)")
    bt.add_argument("--lang", metavar="NGÔN_NGỮ",
                    help="trả lại bản tiếng dân tộc (mã ngôn ngữ, ví dụ hmn)")
    bt.set_defaults(func=c.bulletin_return)
    rc = bul.add_parser(
        "record", help="dùng tệp ghi âm giọng người đọc làm lời bản tin (phải duyệt lại)",
        description="Nhập tệp ghi âm (mp3, m4a, aac, amr, ogg, opus, webm, wav — tệp điện "
                    "thoại ghi) làm lời bản tin: lọc tiếng ồn, cắt khoảng lặng, lưu vào thư "
                    "mục ghi-am/ cạnh tệp bản tin. Khi phát, đài thêm nhạc hiệu và lời giới "
                    "thiệu, chỉnh âm lượng như bản tin đọc bằng máy. Bản tin đã duyệt phải "
                    "duyệt lại.")
    rc.add_argument("file", metavar="TỆP", help="tệp bản tin YAML")
    rc.add_argument("id", metavar="MÃ", help="mã bản tin, ví dụ IV.1.a")
    rc.add_argument("audio", nargs="?", metavar="TỆP_GHI_ÂM",
                    help="tệp ghi âm (bỏ trống khi dùng --remove)")
    rc.add_argument("--remove", action="store_true",
                    help="bỏ tệp ghi âm, bản tin trở lại đọc bằng máy theo lời")
    rc.set_defaults(func=c.bulletin_record)
    bv = bul.add_parser("version", help="thêm, thay hoặc bỏ bản tiếng dân tộc của bản tin "
                                        "(người dịch đọc và ghi âm); bản đó duyệt riêng")
    bv.add_argument("file", metavar="TỆP", help="tệp bản tin YAML")
    bv.add_argument("id", metavar="MÃ", help="mã bản tin, ví dụ IV.1.a")
    bv.add_argument("lang", metavar="NGÔN_NGỮ",
                    help="mã ngôn ngữ, ví dụ hmn (tiếng Mông), tyz (tiếng Tày), km (Khmer)")
    bvx = bv.add_mutually_exclusive_group(required=True)
    bvx.add_argument("--audio", metavar="TỆP_GHI_ÂM",
                     help="tệp ghi âm bản dịch (chép vào thư mục ghi-am/ cạnh tệp bản tin)")
    bvx.add_argument("--text", metavar="LỜI",
                     help="lời bản dịch, khi máy có bộ đọc nói được ngôn ngữ này")
    bvx.add_argument("--remove", action="store_true",
                     help="bỏ bản này: vùng nói ngôn ngữ này nghe bản tiếng Việt")
    bv.set_defaults(func=c.bulletin_version)
    br = bul.add_parser("retire", help="ngừng phát bản tin")
    br.add_argument("file", metavar="TỆP", help="tệp bản tin YAML")
    br.add_argument("ids", nargs="+", metavar="MÃ", help="mã bản tin")
    br.set_defaults(func=c.bulletin_retire)

    norm = sub.add_parser("normalize", help="in đúng câu chữ mà giọng đọc sẽ đọc")
    norm.add_argument("text", nargs="?", metavar="LỜI",
                      help="văn bản (bỏ trống thì đọc từ đầu vào chuẩn)")
    norm.add_argument("--variant", choices=["north", "south"], default="north",
                      help="cách đọc số miền Bắc (nghìn, linh) hay miền Nam (ngàn, lẻ)")
    norm.add_argument("--explain", action="store_true", help="chỉ rõ quy tắc nào đổi chỗ nào")
    norm.add_argument("--day-prefix", choices=["mùng", "mồng", "none"], default="mùng",
                      help="cách đọc ngày 1-10 (mùng một, mồng một, hay một: none)")
    norm.add_argument("--lexicon", action="append", default=[], metavar="TỆP",
                      help="tệp từ viết tắt riêng của đài (YAML), ghi đè từ điển có sẵn")
    norm.set_defaults(func=c.normalize)

    say = sub.add_parser("say", help="đọc một câu thành tệp âm thanh")
    say.add_argument("text", metavar="LỜI", help="câu cần đọc")
    say.add_argument("-o", "--output", metavar="TỆP", required=True, help="tệp WAV ghi ra")
    say.add_argument("--engine", action="append", choices=["gtts", "espeak"],
                     help="bộ đọc, theo thứ tự thử (mặc định: gtts rồi espeak)")
    say.add_argument("--voice", choices=["north", "central", "south"], default="north",
                     help="giọng miền Bắc, Trung hay Nam (mặc định north)")
    say.add_argument("--no-chime", action="store_true", help="không thêm tiếng chuông")
    say.set_defaults(func=c.say)

    ren = sub.add_parser("render", help="đọc trước mọi bản tin đã duyệt mà lịch sẽ cần")
    ren.add_argument("schedule", metavar="LỊCH", help="tệp lịch phát YAML")
    ren.add_argument("--upgrade", action="store_true",
                     help="đọc lại bằng bộ đọc tốt hơn những bản tin lúc trước phải dùng "
                          "bộ đọc dự phòng (khi Google đã kết nối lại được)")
    ren.add_argument("--mp3", action="store_true", help="lưu thêm bản MP3 để lưu trữ")
    ren.add_argument("--jobs", type=INT, default=4, metavar="SỐ",
                     help="số bản tin đọc cùng lúc qua mạng (mặc định 4)")
    ren.set_defaults(func=k.render)

    cl = sub.add_parser("clips", help="các đoạn âm thanh đã đọc sẵn").add_subparsers(
        dest="clips_command", metavar="LỆNH", required=True, title="lệnh")
    cll = cl.add_parser("list", help="liệt kê; cho biết bản tin đã duyệt nào còn đọc bằng "
                                     "giọng dự phòng")
    cll.add_argument("schedule", nargs="?", metavar="LỊCH",
                     help="tệp lịch phát (mặc định: lịch loa run đang chạy)")
    cll.set_defaults(func=k.clips_list)
    cl.add_parser("check", help="kiểm tra từng tệp (đọc được, đủ dài, không câm)").set_defaults(
        func=k.clips_check)
    cp = cl.add_parser("play", help="phát thử một đoạn")
    cp.add_argument("key", metavar="MÃ", help="mã đoạn âm thanh (vài ký tự đầu là đủ)")
    cp.add_argument("--sink", choices=SINKS, default="auto",
                    help="phát ra loa (device), ghi tệp WAV (wav) hay tự chọn (auto)")
    cp.set_defaults(func=k.clips_play)
    cr = cl.add_parser("prune", help="xóa đoạn âm thanh mà các lịch phát không còn cần")
    cr.add_argument("schedules", nargs="+", metavar="LỊCH", help="các tệp lịch phát đang dùng")
    cr.set_defaults(func=k.clips_prune)

    vs = sub.add_parser("voices", help="giọng đọc piper cài trên máy").add_subparsers(
        dest="voices_command", metavar="LỆNH", required=True, title="lệnh")
    va = vs.add_parser("add", help="kiểm tra và cài một giọng đọc piper tiếng Việt")
    va.add_argument("model", metavar="TỆP.onnx",
                    help="tệp giọng đọc; tệp .onnx.json đi kèm phải nằm cạnh nó")
    va.add_argument("--name", metavar="TÊN", help="tên giọng (mặc định: tên tệp)")
    va.set_defaults(func=vo.voices_add)
    vs.add_parser("list", help="liệt kê các giọng đã cài").set_defaults(func=vo.voices_list)
    vr = vs.add_parser("remove", help="gỡ một giọng đã cài")
    vr.add_argument("name", metavar="TÊN", help="tên giọng (xem loa voices list)")
    vr.set_defaults(func=vo.voices_remove)

    val = sub.add_parser("validate", help="kiểm tra tệp lịch phát")
    val.add_argument("schedule", metavar="LỊCH", help="tệp lịch phát YAML trong schedules/")
    val.set_defaults(func=c.validate)
    nxt = sub.add_parser("next", help="xem những gì sẽ phát trong các ngày tới")
    nxt.add_argument("schedule", metavar="LỊCH", help="tệp lịch phát YAML trong schedules/")
    nxt.add_argument("--days", type=INT, default=7, metavar="SỐ_NGÀY",
                     help="số ngày (mặc định 7)")
    nxt.set_defaults(func=c.next_)
    from loa.cli import config

    config.add_parser(sub)

    run = sub.add_parser("run", help="chạy phát tự động theo lịch (chạy mãi đến khi dừng)")
    run.add_argument("schedule", metavar="LỊCH", help="tệp lịch phát YAML")
    run.add_argument("--sink", choices=SINKS, default="auto",
                     help="phát ra loa (device), ghi tệp WAV (wav) hay tự chọn (auto)")
    run.add_argument("--wav-dir", metavar="THƯ_MỤC", help="thư mục ghi tệp WAV khi --sink wav")
    run.add_argument("--for", dest="run_for", type=FLOAT, metavar="GIÂY",
                     help="tự dừng sau số giây này")
    run.add_argument("--until-idle", action="store_true",
                     help="tự dừng khi không còn buổi phát nào trong 36 giờ tới")
    run.add_argument("--fast", action="store_true",
                     help="chỉ dùng khi kiểm thử: tệp WAV được ghi ngay, không chờ hết thời "
                          "lượng bản tin")
    run.add_argument("--no-time-sync", action="store_true",
                     help="phát cả khi hệ thống chưa báo đã đồng bộ giờ (máy không có NTP)")
    run.set_defaults(func=c.run)

    nw = sub.add_parser("now", help="phát tin khẩn cấp ngay (ngắt buổi phát đang chạy)")
    nw.add_argument("what", metavar="LỜI|MÃ",
                    help="lời tin khẩn, hoặc mã bản tin khi có --bulletins")
    nw.add_argument("--bulletins", metavar="TỆP", help="tệp bản tin chứa mã ở trên")
    nw.add_argument("--zones", nargs="+", metavar="VÙNG",
                    help="mã hoặc tên các vùng (mặc định: tất cả); viết lời tin trước --zones")
    nw.add_argument("--title", metavar="TIÊU_ĐỀ", help="tiêu đề ghi vào nhật ký")
    nw.add_argument("--force", action="store_true", help="phát cả bản tin chưa duyệt")
    nw.add_argument("--timeout", type=FLOAT, default=15.0, metavar="GIÂY",
                    help="chờ loa run xác nhận đã nhận tin tối đa chừng này giây (mặc định "
                         "15); quá hạn thì tin được rút lại, không phát")
    nw.set_defaults(func=c.now)

    st = sub.add_parser("status", help="loa run có đang chạy tốt không: lượt sắp phát, đĩa, "
                                       "sổ nhật ký, lỗi gần đây (mã thoát 0 khi tốt)")
    st.add_argument("schedule", nargs="?", metavar="LỊCH",
                    help="tệp lịch phát (mặc định: lịch loa run đang chạy)")
    st.set_defaults(func=c.status)

    cal = sub.add_parser("calendar", help="lịch phát các ngày tới; xuất tệp lịch .ics")
    cal.add_argument("schedule", metavar="LỊCH", help="tệp lịch phát YAML")
    cal.add_argument("--days", type=INT, default=7, metavar="SỐ_NGÀY",
                     help="số ngày (mặc định 7)")
    cal.add_argument("--ics", metavar="TỆP", help="ghi ra tệp .ics thay vì in ra")
    cal.set_defaults(func=c.calendar)

    def period_args(parser, filters=True):
        g = parser.add_argument_group("kỳ (chọn một)")
        g.add_argument("--quarter", metavar="2026Q1", help="một quý, ví dụ 2026Q1")
        g.add_argument("--half", metavar="2026H1", help="6 tháng: 2026H1 (đầu năm), 2026H2")
        g.add_argument("--year", metavar="2026", help="cả năm")
        g.add_argument("--month", metavar="2026-03", help="một tháng")
        g.add_argument("--from", dest="start", metavar="NGÀY",
                       help="từ ngày (2026-01-31 hoặc 31/01/2026)")
        g.add_argument("--to", dest="end", metavar="NGÀY", help="đến hết ngày này")
        if filters:
            f = parser.add_argument_group("lọc")
            f.add_argument("--zone", nargs="+", metavar="VÙNG",
                           help="chỉ các vùng phát này (mã hoặc tên)")
            f.add_argument("--status", nargs="+", metavar="TRẠNG_THÁI",
                           help="played, late, interrupted, failed, missed, skipped "
                                "(hoặc: đã phát, phát muộn, bị ngắt, lỗi, bị lỡ, bỏ qua)")
            f.add_argument("--bulletin", nargs="+", metavar="MÃ",
                           help="chỉ các bản tin này (IV.1.a, hoặc ba-vi-2026/IV.1.a)")

    lg = sub.add_parser("log", help="xem nhật ký phát (lọc theo kỳ, vùng, trạng thái, bản tin)")
    lg.add_argument("--limit", type=INT, default=20, metavar="SỐ",
                    help="số dòng mới nhất (mặc định 20; 0 là tất cả)")
    lg.add_argument("--events", action="store_true",
                    help="xem sự kiện của máy phát (khởi động, dừng, nạp lịch, đồng hồ nhảy, "
                         "lỗi thiết bị)")
    lg.add_argument("--schedule", metavar="LỊCH",
                    help="tệp lịch phát: lấy tên vùng, chương trình và múi giờ của đài "
                         "(mặc định: lịch loa run đang chạy)")
    period_args(lg)
    lg.set_defaults(func=c.show_log)

    ex = sub.add_parser("export", help="xuất nhật ký phát ra CSV, Excel (XLSX) hoặc JSON "
                                       "gửi hệ thống thông tin nguồn")
    ex.add_argument("-o", "--output", metavar="TỆP", required=True,
                    help="tệp ghi ra; đuôi .csv, .xlsx hoặc .json chọn định dạng")
    ex.add_argument("--format", choices=["csv", "xlsx", "json"],
                    help="định dạng (mặc định: theo đuôi tệp)")
    ex.add_argument("--schedule", metavar="LỊCH",
                    help="tệp lịch phát: lấy tên vùng và múi giờ của đài")
    period_args(ex)
    ex.set_defaults(func=c.export)

    rp = sub.add_parser("report", help="báo cáo quý / 6 tháng / năm (Word, tùy chọn PDF)")
    rp.add_argument("schedule", metavar="LỊCH",
                    help="tệp lịch phát YAML (tên đài, vùng, kế hoạch đối chiếu)")
    rp.add_argument("-o", "--output", metavar="TỆP",
                    help="tệp .docx ghi ra (mặc định: bao-cao-<kỳ>.docx)")
    rp.add_argument("--pdf", action="store_true", help="xuất thêm PDF (cần LibreOffice)")
    rp.add_argument("--number", metavar="SỐ", help="số văn bản, ví dụ 12/BC-ĐTT")
    rp.add_argument("--date", metavar="NGÀY", help="ngày ký báo cáo (mặc định hôm nay)")
    period_args(rp, filters=False)
    rp.set_defaults(func=c.report)

    demo = sub.add_parser("demo", help="chạy thử toàn bộ: kế hoạch → bản tin → giọng đọc → "
                                       "lịch → phát → nhật ký")
    demo.add_argument("--sink", choices=SINKS, default="auto",
                      help="phát ra loa (device), ghi tệp WAV (wav) hay tự chọn (auto)")
    demo.set_defaults(func=c.demo)
    from loa.cli import console, fleet

    console.add_parsers(sub)
    fleet.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LoaError as exc:
        from loa.cli.show import terminal

        for problem in exc.problems:
            print(f"Lỗi: {terminal(problem)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Đã dừng.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `loa … | head`: the reader left, nothing is wrong
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # last resort: the stages name the file better where they can
        from loa.fsio import os_error_vi

        reason = os_error_vi(exc)
        if reason is None:
            raise
        where = f"{exc.filename}: " if exc.filename is not None else ""
        from loa.cli.show import terminal

        print(f"Lỗi: {terminal(where)}{reason}.", file=sys.stderr)
        return 2
