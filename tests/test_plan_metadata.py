"""Plan metadata (title, number, date, issuer) on clean plans and on OCR-damaged ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from loa.plan import import_plan
from loa.settings import SAMPLE_PLANS

DATA = Path(__file__).parent / "data"

BODY = """
I. MỤC ĐÍCH, YÊU CẦU
1. Nâng cao nhận thức của người dân về thủ tục hành chính.

II. NỘI DUNG TUYÊN TRUYỀN
1. Các thủ tục người dân thường làm tại Bộ phận Một cửa xã Hòa Bình.
2. Cách nộp hồ sơ trực tuyến trên Cổng Dịch vụ công Quốc gia.

III. TỔ CHỨC THỰC HIỆN
1. Văn phòng UBND xã chủ trì thực hiện.
"""


def _plan(tmp_path: Path, head: str):
    path = tmp_path / "ke-hoach.txt"
    path.write_text(head.strip("\n") + "\n" + BODY, encoding="utf-8")
    return import_plan(path)


# --- the shared plans and the holdout sets: what is right stays right ----------------------

SHARED = {
    "ba-vi-2026": ("Thông tin, tuyên truyền về Kiểm soát thủ tục hành chính trên địa bàn xã "
                   "Ba Vì năm 2026", "/KH-UBND", "Ba Vì, ngày tháng 3 năm 2026", "UBND xã Ba Vì"),
    "ha-noi-2026": ("Thông tin, tuyên truyền về Kiểm soát thủ tục hành chính trên địa bàn thành "
                    "phố Hà Nội năm 2026", "", "", "UBND thành phố Hà Nội"),
    "hang-gon-2026": ("Thông tin, tuyên truyền kiểm soát thủ tục hành chính; cơ chế một cửa, "
                      "một cửa liên thông trên địa bàn phường Hàng Gòn năm 2026", "/KH-UBND",
                      "Hàng Gòn, ngày tháng 3 năm 2026", "UBND phường Hàng Gòn"),
    "nguyen-giap-2024": ("Thông tin, tuyên truyền về công tác Kiểm soát thủ tục hành chính và "
                         "thực hiện cơ chế một cửa, một cửa liên thông trong giải quyết thủ tục "
                         "hành chính xã Nguyên Giáp", "/KH-UBND",
                         "Nguyên Giáp, ngày tháng 3 năm 2024", "UBND xã Nguyên Giáp"),
}


@pytest.mark.parametrize("name", SHARED)
def test_shared_plans(name):
    plan = import_plan(SAMPLE_PLANS / f"{name}.txt")
    assert (plan.title, plan.number, plan.place_date, plan.issuer) == SHARED[name]


def _holdout() -> list:
    params = []
    for folder in ("unseen_plans", "unseen_plans_2"):
        expected = yaml.safe_load((DATA / folder / "expected.yaml").read_text(encoding="utf-8"))
        for name, want in expected.items():
            params.append(pytest.param(DATA / folder / name, want, id=name))
    return params


@pytest.mark.parametrize("path,want", _holdout())
def test_holdout_plans_issuer_year_and_a_title_free_of_legal_bases(path, want):
    plan = import_plan(path)
    assert plan.issuer == want["issuer"] and plan.year == want["year"]
    assert plan.title and "căn cứ" not in plan.title.lower() and "/" not in plan.title
    assert str(plan.year) in plan.place_date  # every holdout plan dates itself in its header


def test_garbled_holdout_plans_keep_their_legible_number_and_date():
    ta_nang = import_plan(DATA / "unseen_plans_2" / "ta-nang-chuyen-doi-so-2025.txt")
    # "So: 145 /KH-UBND", "Ta Nang, ngay 06 thang 10 nam 2025"; the place's marks from the body
    assert ta_nang.number == "145/KH-UBND"
    assert ta_nang.place_date == "Tà Năng, ngày 06 tháng 10 năm 2025"
    ea_kar = import_plan(DATA / "unseen_plans" / "ocr-e-2026.txt")
    assert ea_kar.place_date == "Ea Kar, ngày tháng 4 năm 2026"  # "ngay    thang 4 nam 2026"
    vo_cuong = import_plan(DATA / "unseen_plans_2" / "vo-cuong-atgt-2025.txt")
    # under its parent "UBND THÀNH PHỐ BẮC NINH", the issuer is the ward
    assert vo_cuong.issuer == "UBND phường Võ Cường"


# --- the Mê Linh-style plan: OCR damage, legal bases run into the title ---------------------

def test_me_linh_style_garbled_plan():
    plan = import_plan(DATA / "garbled_plans" / "me-linh-2025.txt")
    assert plan.title == ("Thông tin, tuyen truyền vê cải cách hành chính trên địa ban xã Mê Linh "
                          "năm 2025")  # not "… năm 2025 Cin ctir Nghi dinh sé 63/2010/ND-CP …"
    assert plan.year == 2025
    assert plan.number == "125/KH-UBND"  # "S6: 125/KH-UBND", beside the date in one line
    assert plan.place_date == "Mê Linh, ngày 05 tháng 3 năm 2025"
    # "UY BAN NHAN DAN CONG HOA XA HOI …" / "XA ME LINH Doc lap …": two columns in one line
    assert plan.issuer == "UBND xã Mê Linh"
    assert [t.path for t in plan.topics] == ["II.1", "II.2", "II.3"]


# --- the pieces, one OCR fault at a time -----------------------------------------------------

@pytest.mark.parametrize("bases", [
    "Căn cứ Nghị định số 63/2010/NĐ-CP ngày 08/6/2010 của Chính phủ;",
    "Can cu Nghi dinh so 63/2010/ND-CP ngay 08/6/2010 cua Chinh phu;",
    "Cin ctir Nghi dinh sé 63/2010/ND-CP ngay 08/6/2010 cua Chinh phu;",
    "Căn cử Nghị định số 63/2010/NĐ-CP ngày 08/6/2010 của Chính phủ;",
    "Can cu' Nghi dinh so 63/2010/ND-CP;",
    "Thực hiện Kế hoạch số 19/KH-UBND ngày 24/01/2024 của UBND huyện Tứ Kỳ;",
    "Uy ban nhan dân xa Hòa Bình xây dựng Kế hoạch thông tin, tuyên truyền như sau:",
    "UBND xã Hòa Bình ban hành Kế hoạch tuyên truyền năm 2026 như sau:",
])
def test_title_stops_before_bases_and_lead_in(tmp_path, bases):
    plan = _plan(tmp_path, f"""
KẾ HOẠCH
Tuyên truyền cải cách hành chính trên địa bàn xã Hòa Bình
năm 2026 {bases}
""")
    assert plan.title == "Tuyên truyền cải cách hành chính trên địa bàn xã Hòa Bình năm 2026"
    assert plan.year == 2026


def test_title_run_into_the_plan_word_and_kept_when_it_names_a_decree(tmp_path):
    plan = _plan(tmp_path, """
KẾ HOẠCH Tuyên truyền thực hiện Nghị quyết số 57-NQ/TW trên địa bàn xã Hòa Bình năm 2026
Căn cứ Nghị quyết số 57-NQ/TW ngày 22/12/2024 của Bộ Chính trị;
""")
    assert plan.title == ("Tuyên truyền thực hiện Nghị quyết số 57-NQ/TW trên địa bàn xã Hòa Bình "
                          "năm 2026")


@pytest.mark.parametrize("line,number", [
    ("Số: 12/KH-UBND", "12/KH-UBND"),
    ("S6: 12/KH-UBND", "12/KH-UBND"),
    ("Sô 12/KH-UBND", "12/KH-UBND"),
    ("SỐ:  12 / KH-UBND", "12/KH-UBND"),
    ("Số:        /KH-UBND", "/KH-UBND"),  # not numbered yet
    ("XÃ HÒA BÌNH S6: 7/KH-UBNÐ", "7/KH-UBND"),  # beside the issuer; OCR's eth for Đ
])
def test_number(tmp_path, line, number):
    plan = _plan(tmp_path, f"ỦY BAN NHÂN DÂN\n{line}\nKẾ HOẠCH\nTuyên truyền năm 2026\n")
    assert plan.number == number


def test_a_cited_plan_number_is_not_the_plans_own(tmp_path):
    plan = _plan(tmp_path, """
KẾ HOẠCH
Tuyên truyền năm 2026
Căn cứ Kế hoạch số 58/KH-UBND ngày 11/3/2026 của UBND huyện;
""")
    assert plan.number == "" and plan.place_date == ""  # "ngày 11/3/2026" is no place-date


@pytest.mark.parametrize("line,place_date", [
    ("Hòa Bình, ngày 05 tháng 3 năm 2026", "Hòa Bình, ngày 05 tháng 3 năm 2026"),
    ("Hoa Binh, ngay 05 thang 3 nam 2026", "Hòa Bình, ngày 05 tháng 3 năm 2026"),
    ("Hòa Bình ngảy 05 thảng 3 nărn 2026", "Hòa Bình, ngày 05 tháng 3 năm 2026"),
    ("ngay 05 thang 3 nam 2026", "ngày 05 tháng 3 năm 2026"),
    ("Độc lập - Tự do - Hạnh phúc Hòa Bình, ngày      tháng 3 năm 2026",
     "Hòa Bình, ngày tháng 3 năm 2026"),
])
def test_place_date(tmp_path, line, place_date):
    plan = _plan(tmp_path, f"ỦY BAN NHÂN DÂN\nXÃ HÒA BÌNH\n{line}\nKẾ HOẠCH\nTuyên truyền năm 2026\n")
    assert plan.place_date == place_date


@pytest.mark.parametrize("head", [
    "ỦY BAN NHÂN DÂN\nXÃ HÒA BÌNH",
    "ỦY BAN NHÂN DÂN XÃ HÒA BÌNH",
    "UY BAN NHAN DAN\nXA HOA BINH",
    "UỶ BAN NHÂN DÂN CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nXÃ HÒA BÌNH Độc lập - Tự do - Hạnh phúc",
    "UBND XÃ HOA BINH",
    "UBND HUYỆN LẠC SƠN\nUBND XÃ HÒA BÌNH",  # the parent above the issuer
    "UY BAN NHAN DAN\nXA HOA BINH Số: 12/KH-UBND",
])
def test_issuer_from_the_header(tmp_path, head):
    plan = _plan(tmp_path, f"{head}\nKẾ HOẠCH\nTuyên truyền năm 2026\n")
    assert plan.issuer == "UBND xã Hòa Bình"  # marks restored from the body's "xã Hòa Bình"


def test_issuer_from_a_garbled_lead_in_without_header(tmp_path):
    plan = _plan(tmp_path, """
KẾ HOẠCH
Tuyên truyền năm 2026
Can cu Ke hoach so 58/KH-UBND ngay 11/3/2026 cua UBND huyen;
Uy ban nhan dan xa Hoa Binh xay dung Ke hoach thong tin, tuyen truyen nhu sau:
""")
    assert plan.issuer == "UBND xã Hòa Bình"
