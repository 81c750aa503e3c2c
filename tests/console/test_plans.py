"""Kế hoạch: an editor uploads a plan, sees its topics, drafts bulletins; a revised plan
merges; oversize, wrong-type and not-a-plan uploads are refused in Vietnamese and leave
nothing on disk."""

from __future__ import annotations

import io
import time
from datetime import datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from fakeclock import FakeClock

from console.conftest import login, screenshot
from loa.clock import DEFAULT_TZ
from loa.errors import LoaError
from loa.station import plans as st_plans

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE = DATA / "ha-noi-2026.txt"
NOON = datetime(2026, 11, 30, 12, 0, tzinfo=DEFAULT_TZ)


@pytest.fixture
def clock(settings):
    settings.LOA_CLOCK = FakeClock(NOON)
    return settings.LOA_CLOCK


def plans_dir(schedule: Path) -> Path:
    return schedule.parent / "plans"


def stored(schedule: Path) -> list[str]:
    """Every file under the plans folder (hidden ones too): what an upload left behind."""
    folder = plans_dir(schedule)
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def finish(client, job: int, deadline_s: float = 120) -> None:
    """Poll the reading's status as the page does until it has finished."""
    end = time.monotonic() + deadline_s
    while not client.get(f"/ke-hoach/dang-doc/{job}/trang-thai.json").json()["finished"]:
        assert time.monotonic() < end, "still reading"
        time.sleep(0.05)


def upload(client, name: str, data: bytes, **extra):
    """Upload as the page does; once the reading has started, wait for it and return the
    reading's page: a redirect to the stored plan, or what went wrong."""
    resp = client.post("/ke-hoach/tai-len/", {"plan": SimpleUploadedFile(name, data), **extra})
    if resp.status_code != 302 or "/dang-doc/" not in resp["Location"]:
        return resp
    finish(client, int(resp["Location"].rstrip("/").rsplit("/", 1)[1]))
    return client.get(resp["Location"])


def revised_sample() -> bytes:
    """The sample plan with topic IV.1.a reworded and IV.1.c dropped."""
    text = SAMPLE.read_text(encoding="utf-8")
    a = text.index("a) Tuyên truyền về vai trò và tầm quan trọng")
    text = text[:a] + text[a:].replace("tầm quan trọng", "ý nghĩa to lớn", 1)
    c, d = text.index("c) Tuyên truyền về quyết tâm"), text.index("d) Tập trung tuyên truyền")
    return (text[:c] + text[d:]).encode("utf-8")


# --- the station layer, without Django ----------------------------------------------------


def test_store_plan_keeps_it_under_a_chosen_name_and_reads_its_topics(tmp_path):
    folder = tmp_path / "plans"
    up = st_plans.store_plan(io.BytesIO(SAMPLE.read_bytes()), r"C:\Users\x\Kế hoạch HN.txt",
                             folder, by="Trần Thị Bình", now=NOON)
    assert up.entry.key == "ke-hoach-hn" and not up.revised
    assert up.entry.original_name == "Kế hoạch HN.txt"  # no folders of the sender's machine
    assert up.entry.topics == len(up.plan.topics) == 19
    assert up.entry.issuer == "UBND thành phố Hà Nội"
    assert stored(tmp_path / "x.yaml") == ["ke-hoach-hn.json", "ke-hoach-hn.txt"]
    [(entry, drafts)] = st_plans.list_plans(folder, tmp_path / "bulletins")
    assert entry.title == up.plan.title and entry.uploaded_by == "Trần Thị Bình"
    assert entry.uploaded == NOON and not drafts.exists


def test_a_different_plan_with_the_same_file_name_is_a_new_plan(tmp_path):
    folder = tmp_path / "plans"
    st_plans.store_plan(io.BytesIO(SAMPLE.read_bytes()), "ke-hoach.txt", folder, by="A", now=NOON)
    other = (DATA / "unseen_plans" / "xa-b-2026.txt").read_bytes()
    up = st_plans.store_plan(io.BytesIO(other), "ke-hoach.txt", folder, by="A", now=NOON)
    assert up.entry.key == "ke-hoach-2" and not up.revised
    # the same plan again under that name is a revision of the first
    again = st_plans.store_plan(io.BytesIO(revised_sample()), "ke-hoach.txt", folder, by="A",
                                now=NOON)
    assert again.entry.key == "ke-hoach" and again.revised
    assert (folder / "cu" / "ke-hoach-1.txt").read_bytes() == SAMPLE.read_bytes()


def test_two_uploads_at_once_both_keep_their_file(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    folder = tmp_path / "plans"
    texts = [SAMPLE.read_bytes(), (DATA / "unseen_plans" / "xa-b-2026.txt").read_bytes()]

    def store(data):
        return st_plans.store_plan(io.BytesIO(data), "ke-hoach.txt", folder, by="A", now=NOON)

    with ThreadPoolExecutor(2) as pool:
        ups = list(pool.map(store, texts))
    assert sorted(u.entry.key for u in ups) == ["ke-hoach", "ke-hoach-2"]
    for up, data in zip(ups, texts, strict=True):
        assert (folder / up.entry.file).read_bytes() == data
    assert stored(tmp_path / "x.yaml") == ["ke-hoach-2.json", "ke-hoach-2.txt", "ke-hoach.json",
                                           "ke-hoach.txt"]


def test_store_plan_stops_reading_past_max_bytes(tmp_path):
    class Endless(io.RawIOBase):
        read_count = 0

        def read(self, n=-1):
            self.read_count += 1
            return b"a" * (1 << 20)

    src = Endless()
    with pytest.raises(LoaError, match="quá lớn") as err:
        st_plans.store_plan(src, "lon.txt", tmp_path / "plans", by="A", now=NOON,
                            max_bytes=3 << 20)
    assert err.value.problems[0].path == "lon.txt"
    assert src.read_count == 4  # three chunks fit, the fourth is one too many
    assert stored(tmp_path / "x.yaml") == []


# --- the page ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_editor_uploads_sees_topics_drafts_and_a_revision_merges(client_as, station, clock):
    from loa.console.accounts.models import AuditEntry
    from loa.station import list_bulletins

    editor = client_as("editor")
    resp = upload(editor, "Kế hoạch Hà Nội 2026.txt", SAMPLE.read_bytes())
    assert resp.status_code == 302 and resp["Location"] == "/ke-hoach/ke-hoach-ha-noi-2026/"
    assert stored(station) == ["ke-hoach-ha-noi-2026.json", "ke-hoach-ha-noi-2026.txt"]
    page = editor.get(resp["Location"]).content.decode()
    assert "Đã tải lên kế hoạch" in page and "19 mục nội dung" in page
    assert "UBND thành phố Hà Nội" in page and "Kiểm soát thủ tục hành chính" in page
    assert "Tuyên truyền về vai trò và tầm quan trọng" in page  # a topic's title
    assert "12:00 thứ Hai 30/11/2026" in page and "Trần Thị Bình" in page  # who and when

    resp = editor.post("/ke-hoach/ke-hoach-ha-noi-2026/ban-nhap/")
    assert resp.status_code == 302
    drafts = station.parent / "bulletins" / "ke-hoach-ha-noi-2026.yaml"
    blist = list_bulletins(drafts)
    assert len(blist.items) == 19
    assert all(b.status == "draft" for b in blist.items)
    page = editor.get(resp["Location"]).content.decode()
    assert "Đã tạo 19 bản tin nháp." in page
    index = editor.get("/ke-hoach/").content.decode()
    assert "19 bản tin" in index and "19 bản nháp" in index
    assert "tệp bulletins/ke-hoach-ha-noi-2026.yaml" in index

    # the revised plan, uploaded as a revision of the first, merges into the same drafts
    resp = upload(editor, "KH sửa đổi.txt", revised_sample(), revises="ke-hoach-ha-noi-2026")
    assert resp.status_code == 302 and resp["Location"] == "/ke-hoach/ke-hoach-ha-noi-2026/"
    assert "bản sửa đổi của kế hoạch" in editor.get(resp["Location"]).content.decode()
    resp = editor.post("/ke-hoach/ke-hoach-ha-noi-2026/ban-nhap/")
    page = editor.get(resp["Location"]).content.decode()
    assert "Đã cập nhật bản nháp theo kế hoạch mới: giữ nguyên 17 bản tin" in page
    assert "1 bản tin có nội dung đổi, cần đọc lại rồi duyệt: «Tuyên truyền về vai trò" in page
    assert "ngừng phát 1 bản tin không còn trong kế hoạch: «Tuyên truyền về quyết tâm" in page
    assert "Bản trước: «Kế hoạch Hà Nội 2026.txt»" in page
    assert len(list_bulletins(drafts).items) == 19
    assert stored(station) == ["cu", "cu/ke-hoach-ha-noi-2026-1.txt",
                               "ke-hoach-ha-noi-2026.json", "ke-hoach-ha-noi-2026.txt"]

    actions = list(AuditEntry.objects.filter(action__startswith="plan.").order_by("id")
                   .values_list("action", "target", "username"))
    title = "kế hoạch «Thông tin, tuyên truyền về Kiểm soát thủ tục hành chính trên địa bàn " \
            "thành phố Hà Nội năm 2026»"
    start = ("plan.import_start", "tệp Kế hoạch Hà Nội 2026.txt", "bientap")
    assert actions == [start, ("plan.upload", title, "bientap"), ("plan.draft", title, "bientap"),
                       ("plan.import_start", "tệp KH sửa đổi.txt", "bientap"),
                       ("plan.upload", title, "bientap"), ("plan.draft", title, "bientap")]


@pytest.mark.django_db
def test_a_200_mb_upload_is_refused_before_anything_reads_it(station, make_user, clock):
    make_user("bientap", "editor")
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("bientap2", "editor"))
    body = b"--x\r\nContent-Disposition: form-data; name=\"plan\"; filename=\"lon.pdf\"\r\n\r\n%PDF-"
    # the header claims 200 MB; the test client's payload raises if anyone reads past `body`,
    # and there is no CSRF token: the size is refused before the CSRF check reads the form
    resp = client.generic("POST", "/ke-hoach/tai-len/", body,
                          content_type="multipart/form-data; boundary=x",
                          CONTENT_LENGTH=str(200 * 1024 * 1024))
    assert resp.status_code == 413
    page = resp.content.decode()
    assert 'class="errors"' in page and "tệp quá lớn (200.0 MB)" in page
    assert "tối đa 20 MB" in page
    assert stored(station) == []


@pytest.mark.django_db
def test_a_real_21_mb_file_is_refused_and_nothing_is_kept(client_as, station, clock):
    big = SAMPLE.read_bytes() * (21 * 1024 * 1024 // SAMPLE.stat().st_size + 1)
    assert len(big) > 21 * 1024 * 1024
    resp = upload(client_as("editor"), "to.txt", big)
    assert resp.status_code == 413
    assert "tệp quá lớn (21." in resp.content.decode()
    assert stored(station) == []


@pytest.mark.django_db
def test_a_file_over_the_limit_in_a_small_request_is_refused_too(client_as, station, clock,
                                                                  settings):
    settings.PLAN_MAX_BYTES = 1024  # the request is within the form's slack; the file is not
    resp = upload(client_as("editor"), "nho.txt", SAMPLE.read_bytes()[:5000])
    assert resp.status_code == 413 and "tệp quá lớn" in resp.content.decode()
    assert stored(station) == []


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "data", "message"), [
    ("KH.docx", b"MZ\x90\x00\x03" + b"\x00" * 2000,
     "KH.docx: nội dung tệp thực ra là chương trình Windows (.exe), không khớp với đuôi .docx"),
    ("KH.pdf", b"Just some text, not a PDF at all.",
     "KH.pdf: nội dung tệp không phải tệp PDF"),
    ("KH.txt", b"%PDF-1.7\n...", "KH.txt: nội dung tệp thực ra là PDF"),
    ("KH.exe", b"MZ\x90\x00", "KH.exe: chỉ nhận kế hoạch dạng .docx, .pdf, .txt, .doc, .odt, "
                             ".rtf hoặc ảnh chụp .jpg, .png, .heic; tệp này đuôi '.exe'"),
    ("KH.odt", b"{\\rtf1 x}", "KH.odt: nội dung tệp không phải tệp OpenDocument (.odt)"),
    ("KH", b"text", "tệp này không có đuôi"),
    ("KH.doc", b"PK\x03\x04rest", "KH.doc: nội dung tệp thực ra là tệp nén ZIP, không khớp với "
                                  "đuôi .doc"),
    ("KH.jpg", b"%PDF-1.4\n", "KH.jpg: nội dung tệp không phải ảnh JPEG"),
    ("Giấy mời.txt", "Giấy mời họp chi bộ lúc 8 giờ sáng thứ Hai.\n".encode(),
     "Giấy mời.txt: không tìm thấy phần “Nội dung thông tin, tuyên truyền” trong kế hoạch"),
])
def test_wrong_files_are_refused_with_the_readers_vietnamese_message(client_as, station, clock,
                                                                     name, data, message):
    resp = upload(client_as("editor"), name, data)
    assert resp.status_code == 400
    page = resp.content.decode()
    assert 'class="errors"' in page and message in page.replace("&#x27;", "'")
    assert "Traceback" not in page
    assert stored(station) == []  # nothing kept, not even a temp folder


@pytest.mark.django_db
def test_a_pdf_that_is_not_a_plan(client_as, station, clock, tmp_path):
    from plan_docs import convert

    letter = tmp_path / "giay-moi.txt"
    letter.write_text("GIẤY MỜI\nKính mời các đồng chí dự họp chi bộ lúc 8 giờ sáng thứ Hai\n"
                      "tại hội trường Ủy ban nhân dân xã.\n", encoding="utf-8")
    pdf = convert(letter, "pdf", tmp_path)  # a real PDF, from LibreOffice
    resp = upload(client_as("editor"), "Giấy mời họp.pdf", pdf.read_bytes())
    assert resp.status_code == 400
    page = resp.content.decode()
    assert ("Giấy mời họp.pdf: không tìm thấy phần “Nội dung thông tin, tuyên truyền” trong "
            "kế hoạch") in page
    assert stored(station) == []


@pytest.mark.django_db
def test_no_file_chosen(client_as, station, clock):
    resp = client_as("editor").post("/ke-hoach/tai-len/", {})
    assert resp.status_code == 400 and "Hãy chọn tệp kế hoạch để tải lên." in resp.content.decode()


@pytest.mark.django_db
def test_operator_text_is_escaped_and_unknown_plans_are_404(client_as, station, clock):
    editor = client_as("editor")
    resp = upload(editor, "<img src=x onerror=alert(1)>.txt", SAMPLE.read_bytes())
    assert resp.status_code == 302
    page = editor.get("/ke-hoach/").content.decode()
    assert "<img src=x" not in page and "«&lt;img src=x onerror=alert(1)&gt;.txt»" in page
    for url in ("/ke-hoach/khong-co/", "/ke-hoach/..%2Fba-vi/", "/ke-hoach/khong-co/ban-nhap/"):
        method = editor.post if url.endswith("ban-nhap/") else editor.get
        assert method(url).status_code == 404, url
    # a form's address opened by hand goes back to its page
    assert editor.get("/ke-hoach/tai-len/")["Location"] == "/ke-hoach/"
    key = resp["Location"].split("/")[2]
    assert editor.get(f"/ke-hoach/{key}/ban-nhap/")["Location"] == f"/ke-hoach/{key}/"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["leader", "technician", "admin"])
def test_only_editors_upload_or_draft(client_as, station, clock, role):
    editor = client_as("editor")
    assert upload(editor, "kh.txt", SAMPLE.read_bytes()).status_code == 302
    before = stored(station)
    other = client_as(role)
    assert upload(other, "kh2.txt", SAMPLE.read_bytes()).status_code == 403
    assert other.post("/ke-hoach/kh/ban-nhap/").status_code == 403
    assert other.get("/ke-hoach/kh/").status_code == 403
    assert stored(station) == before
    assert not (station.parent / "bulletins" / "kh.yaml").exists()


@pytest.mark.django_db
def test_a_broken_drafts_file_is_shown_not_a_traceback(client_as, station, clock):
    editor = client_as("editor")
    upload(editor, "kh.txt", SAMPLE.read_bytes())
    (station.parent / "bulletins" / "kh.yaml").write_text("bulletins: [\n", encoding="utf-8")
    page = editor.get("/ke-hoach/kh/").content.decode()
    assert "Tệp bulletins/kh.yaml có lỗi" in page
    resp = editor.post("/ke-hoach/kh/ban-nhap/")
    assert resp.status_code == 400 and "kh.yaml" in resp.content.decode()


# --- a phone --------------------------------------------------------------------------------


@pytest.mark.browser
def test_phone_uploads_a_plan_and_drafts(live_console, phone, tmp_path):
    live = live_console()
    login(phone, live, "editor")
    phone.goto(live.url + "/ke-hoach/")
    screenshot(phone, "plans-empty")
    # a too-big file is refused in the page before it is sent
    big = tmp_path / "lon.pdf"
    with open(big, "wb") as fh:
        fh.truncate(21 * 1024 * 1024)  # sparse: 21 MB by size, nothing written
    phone.set_input_files("#id_plan", str(big), timeout=60000)
    phone.get_by_role("button", name="Tải lên").click()
    assert phone.locator("#loi-tep").is_visible()
    assert "quá lớn (21.0 MB)" in phone.locator("#loi-tep").inner_text()
    assert phone.url.endswith("/ke-hoach/")
    screenshot(phone, "plans-too-big")

    phone.set_input_files("#id_plan", str(SAMPLE))
    phone.get_by_role("button", name="Tải lên").click()
    phone.wait_for_url("**/ke-hoach/ha-noi-2026/")
    assert "19 mục nội dung" in phone.locator(".messages").inner_text()
    screenshot(phone, "plan-topics")
    phone.get_by_role("button", name="Tạo bản nháp").click()
    phone.wait_for_load_state()
    assert "Đã tạo 19 bản tin nháp." in phone.locator(".messages").inner_text()
    screenshot(phone, "plan-drafted")
    assert (live.schedule.parent / "bulletins" / "ha-noi-2026.yaml").exists()
    phone.goto(live.url + "/ke-hoach/")
    assert "19 bản tin" in phone.locator("table.list").inner_text()
    screenshot(phone, "plans-list")

    # the admin's pages on the same phone: Người dùng (list, add, edit), Nhật ký thao tác
    phone.context.clear_cookies()
    login(phone, live, "admin")
    phone.goto(live.url + "/nguoi-dung/")
    assert "Trần Thị Bình" in phone.locator("table.list").inner_text()
    screenshot(phone, "users")
    phone.get_by_role("link", name="Thêm tài khoản").click()
    phone.fill("#id_username", "hoa.le")
    phone.fill("#id_full_name", "Lê Thị Hoa")
    phone.get_by_label("Biên tập", exact=False).check()
    phone.fill("#id_password1", "ab")
    phone.fill("#id_password2", "ab")
    phone.get_by_role("button", name="Lưu").click()
    assert "Mật khẩu quá ngắn" in phone.locator(".errors").inner_text()
    screenshot(phone, "user-add-error")
    phone.fill("#id_password1", "Hoa-mat-khau-2026")
    phone.fill("#id_password2", "Hoa-mat-khau-2026")
    phone.get_by_role("button", name="Lưu").click()
    phone.wait_for_url("**/nguoi-dung/")
    assert "Đã tạo tài khoản cho Lê Thị Hoa." in phone.locator(".messages").inner_text()
    phone.get_by_role("link", name="Lê Thị Hoa").click()
    screenshot(phone, "user-edit")
    phone.goto(live.url + "/thao-tac/")
    text = phone.locator("table.list").inner_text()
    assert "Thêm tài khoản: Lê Thị Hoa" in text and "Tạo bản nháp từ kế hoạch" in text
    assert "Trần Thị Bình" in text and "Phạm Thị Dung" in text
    screenshot(phone, "audit")


@pytest.mark.django_db
def test_a_plan_put_in_the_folder_by_hand_is_listed_and_read(client_as, station, clock):
    folder = plans_dir(station)
    folder.mkdir()
    (folder / "tay.txt").write_bytes(SAMPLE.read_bytes())
    (folder / "ghi-chu.md").write_text("không phải kế hoạch", encoding="utf-8")
    editor = client_as("editor")
    index = editor.get("/ke-hoach/").content.decode()
    assert "Tệp «tay.txt»" in index and "ghi-chu" not in index
    page = editor.get("/ke-hoach/tay/").content.decode()
    assert "Các mục nội dung (19)" in page and "Tạo bản nháp" in page


@pytest.mark.django_db
def test_a_word_plan_uploads_like_the_text_one(client_as, station, clock, tmp_path):
    from plan_docs import word_document

    doc = word_document(SAMPLE, tmp_path / "KH 56.docx", auto_letters=True)
    editor = client_as("editor")
    resp = upload(editor, "KH 56.docx", doc.read_bytes())
    assert resp.status_code == 302 and resp["Location"] == "/ke-hoach/kh-56/"
    assert "Các mục nội dung (19)" in editor.get(resp["Location"]).content.decode()
    assert stored(station) == ["kh-56.docx", "kh-56.json"]


@pytest.mark.django_db
def test_the_upload_still_needs_its_csrf_token(station, make_user, clock):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("bientap", "editor"))
    resp = upload(client, "kh.txt", SAMPLE.read_bytes())
    assert resp.status_code == 403 and "Phiên làm việc đã hết hạn" in resp.content.decode()
    assert stored(station) == []
    token = client.get("/ke-hoach/").cookies["csrftoken"].value
    resp = upload(client, "kh.txt", SAMPLE.read_bytes(), csrfmiddlewaretoken=token)
    assert resp.status_code == 302 and stored(station) == ["kh.json", "kh.txt"]


def test_drafting_waits_for_a_writer_of_the_same_bulletins_file(tmp_path):
    """Tạo bản nháp reads, merges and saves bulletins/<key>.yaml under the file's lock: an
    approval saved meanwhile by another worker is merged, not overwritten."""
    import threading

    from console.conftest import copy_station
    from loa.script.bulletin import approve
    from loa.script.bulletin import load_bulletins as open_bulletins
    from loa.script.draft import clear_markers
    from loa.station.bulletins import _locked

    schedule = copy_station(tmp_path / "schedules")
    folder, drafts = schedule.parent / "plans", schedule.parent / "bulletins"
    up = st_plans.store_plan(io.BytesIO(SAMPLE.read_bytes()), "ke-hoach.txt", folder, by="A",
                             now=NOON)
    out = st_plans.draft_plan(folder, up.entry.key, drafts, schedule).path
    first = open_bulletins(out).bulletins[0].id
    with _locked(out):  # another worker is saving this file
        drafting = threading.Thread(
            target=st_plans.draft_plan, args=(folder, up.entry.key, drafts, schedule))
        drafting.start()
        drafting.join(1.0)
        assert drafting.is_alive()  # waits for the lock
        bfile = open_bulletins(out)
        bfile.get(first).text = clear_markers(bfile.get(first).text)
        approve(bfile, [first], "Nguyễn Văn An", NOON)
        bfile.save()
    drafting.join(30)
    assert open_bulletins(out).get(first).status == "approved"


def test_photos_are_kept_together_versioned_as_one_and_their_reading_kept(tmp_path):
    """keep_plan: a plan read from photos (as the background reading gives it) is kept as
    <key>.anh/ in page order, named by its number; its reading is used for drafting while
    the photos are unchanged, and a revision moves the whole folder to cu/."""
    from PIL import Image

    from loa.plan.ocr import OcrInfo
    from loa.station import read_plan

    folder = tmp_path / "plans"

    def photos(tag: str) -> list[Path]:
        out = []
        for i in (1, 2):
            p = tmp_path / f"IMG_{tag}{i}.jpg"
            Image.new("L", (64, 64), 255).save(p)  # a blank page: OCR would find no plan
            out.append(p)
        return out

    read = read_plan(SAMPLE)
    read.ocr = OcrInfo(pages=[1, 2], page_confidence={1: 0.9, 2: 0.8}, total_pages=2)
    up = st_plans.keep_plan(read, photos("a"), ["IMG_a1.jpg", "IMG_a2.jpg"], folder,
                            by="Trần Thị Bình", now=NOON)
    key = up.entry.key
    assert key == "ke-hoach-anh-chup"  # no number legible: not the phone's IMG_… name
    pages = folder / f"{key}.anh"
    assert sorted(p.name for p in pages.iterdir()) == ["trang-01.jpg", "trang-02.jpg"]
    assert up.entry.pages == 2 and up.entry.original_name == "IMG_a1.jpg (+1 ảnh)"
    assert "OCR" in up.entry.ocr and "85%" in up.entry.ocr
    assert [e.key for e, _ in st_plans.list_plans(folder, tmp_path / "bulletins")] == [key]
    # drafting reads the kept reading: the blank photos are not read again
    entry, again = st_plans.open_plan(folder, key)
    assert len(again.topics) == 19 and entry.ocr == up.entry.ocr

    # a revision from new photos: the old folder goes to cu/ as one piece
    read2 = read_plan(SAMPLE)
    read2.ocr = OcrInfo(pages=[1, 2], page_confidence={1: 0.9, 2: 0.9}, total_pages=2)
    up2 = st_plans.keep_plan(read2, photos("b"), ["IMG_b1.jpg", "IMG_b2.jpg"], folder,
                             by="Trần Thị Bình", now=NOON, revises=key)
    assert up2.revised and up2.entry.versions[0]["file"] == f"cu/{key}-1.anh"
    assert sorted(p.name for p in (folder / "cu" / f"{key}-1.anh").iterdir()) == [
        "trang-01.jpg", "trang-02.jpg"]
    # the photos changed by hand: the kept reading no longer fits, so they are read again
    Image.new("L", (80, 80), 255).save(pages / "trang-01.jpg")
    with pytest.raises(LoaError):
        st_plans.open_plan(folder, key)
