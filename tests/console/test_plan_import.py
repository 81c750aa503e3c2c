"""Reading an uploaded plan on Kế hoạch: an editor uploads one plan file (any form the
reader reads) or photos of its pages; it is read in the background with progress, then kept
by the station and listed on Kế hoạch with its topics, warnings and drafts. Limits, wrong
files, reader errors, restarts and roles are said in Vietnamese, never as a 500, and the
upload is not left on disk. The day-old Nhập kế hoạch addresses lead to Kế hoạch."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from console.conftest import login, screenshot
from loa.console.accounts.models import AuditEntry
from loa.console.pages.models import ImportJob
from loa.console.pages.views import plan_import

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE = DATA / "ha-noi-2026.txt"  # 19 topics
URL = "/ke-hoach/tai-len/"
JOB = "/ke-hoach/dang-doc/"


def uploads_left(data: Path) -> list[str]:
    """Every file of the upload area (a job's private folder and what is in it)."""
    home = data / "nhap-ke-hoach"
    return sorted(str(p.relative_to(home)) for p in home.rglob("*")) if home.exists() else []


def data_dir(station: Path) -> Path:
    return station.parent.parent / "data"  # the station fixture's LOA_DATA_DIR


def plans_dir(station: Path) -> Path:
    return station.parent / "plans"


def send(client, *files: tuple[str, bytes], **extra):
    return client.post(URL, {"plan": [SimpleUploadedFile(n, b) for n, b in files], **extra})


def finish(client, job_id: int, deadline_s: float = 120) -> dict:
    """Poll the status endpoint as the page does until the reading has finished."""
    end = time.monotonic() + deadline_s
    while True:
        status = client.get(f"{JOB}{job_id}/trang-thai.json").json()
        if status["finished"]:
            return status
        assert time.monotonic() < end, f"still reading: {status}"
        time.sleep(0.1)


def started(resp) -> int:
    assert resp.status_code == 302, resp.content.decode()[:2000]
    assert resp["Location"].startswith(JOB)
    return int(resp["Location"].rstrip("/").rsplit("/", 1)[1])


def plan_page(client, job: int) -> tuple[str, str]:
    """The job's page once read: it leads to the stored plan's page; (its URL, its text)."""
    resp = client.get(f"{JOB}{job}/")
    assert resp.status_code == 302 and resp["Location"].startswith("/ke-hoach/")
    return resp["Location"], client.get(resp["Location"]).content.decode()


# --- Django client ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_editor_uploads_a_text_plan_it_is_read_kept_listed_and_drafted(client_as, station):
    client = client_as("editor")
    page = client.get("/ke-hoach/").content.decode()
    assert 'accept="image/*,' in page and "multiple" in page and "csrfmiddlewaretoken" in page

    job = started(send(client, ("Kế hoạch Hà Nội.txt", SAMPLE.read_bytes())))
    status = finish(client, job)
    assert status["state"] == "done" and status["text"] == "Đã đọc xong."
    assert uploads_left(data_dir(station)) == []  # the upload is moved to the plans folder

    url, page = plan_page(client, job)
    assert url == "/ke-hoach/ke-hoach-ha-noi/"
    assert sorted(p.name for p in plans_dir(station).iterdir()) == [
        "ke-hoach-ha-noi.json", "ke-hoach-ha-noi.txt"]
    assert "Đã tải lên kế hoạch" in page and "19 mục nội dung" in page
    assert "UBND thành phố Hà Nội" in page and "Các mục nội dung (19)" in page
    assert "Tuyên truyền về vai trò và tầm quan trọng" in page  # a topic by its name
    assert "Tạo bản nháp" in page
    assert "Đã tải lên kế hoạch" not in client.get(f"{JOB}{job}/", follow=True).content.decode()
    assert "Kế hoạch Hà Nội.txt" in client.get("/ke-hoach/").content.decode()  # listed

    resp = client.post(f"{url}ban-nhap/")
    assert resp.status_code == 302
    out = station.parent / "bulletins" / "ke-hoach-ha-noi.yaml"
    assert out.exists()
    assert "Đã tạo 19 bản tin nháp." in client.get(url).content.decode()
    # drafting again merges, as the CLI does: the officer's edits are kept
    client.post(f"{url}ban-nhap/")
    assert "giữ nguyên 19 bản tin" in client.get(url).content.decode()

    actions = list(AuditEntry.objects.filter(action__startswith="plan.").order_by("id")
                   .values_list("action", "target"))
    assert [a for a, _ in actions] == ["plan.import_start", "plan.upload", "plan.draft",
                                       "plan.draft"]
    assert "Kế hoạch Hà Nội.txt" in actions[0][1]


@pytest.mark.django_db
def test_a_garbled_plan_is_kept_with_its_warning(client_as, station):
    client = client_as("editor")
    garbled = DATA / "unseen_plans" / "ocr-e-2026.txt"  # a poor OCR's text, tones lost
    job = started(send(client, ("ocr-e.txt", garbled.read_bytes())))
    assert finish(client, job)["state"] == "done"
    url, page = plan_page(client, job)
    assert 'id="chu-loi"' in page and "có vẻ bị lỗi (mất dấu hoặc nhận dạng sai)" in page
    assert "không phải tiếng Việt hợp lệ" in page  # the guard's own figures
    assert 'id="canh-bao"' not in page  # a text file: no page was read by OCR
    meta = (plans_dir(station) / "ocr-e.json").read_text(encoding="utf-8")
    assert "mất dấu hoặc nhận dạng sai" in meta  # kept with the plan, not only shown once
    assert "không phải tiếng Việt hợp lệ" in client.get(url).content.decode()


@pytest.mark.django_db
def test_an_old_word_file_is_read_through_libreoffice_and_kept(client_as, station, tmp_path):
    from plan_docs import convert, word_document

    doc = convert(word_document(SAMPLE, tmp_path / "ke-hoach.docx"), "doc", tmp_path)
    client = client_as("editor")
    job = started(send(client, ("Kế hoạch cũ.doc", doc.read_bytes())))
    assert finish(client, job)["state"] == "done"
    url, page = plan_page(client, job)
    assert url == "/ke-hoach/ke-hoach-cu/"
    assert "Các mục nội dung (19)" in page and "UBND thành phố Hà Nội" in page
    assert (plans_dir(station) / "ke-hoach-cu.doc").read_bytes() == doc.read_bytes()
    assert uploads_left(data_dir(station)) == []


@pytest.mark.django_db
def test_a_reader_error_is_shown_in_vietnamese_naming_the_officers_file(client_as, station):
    client = client_as("editor")
    job = started(send(client, ("thong-bao.txt", "Chỉ là một dòng thông báo.\n".encode())))
    assert finish(client, job)["state"] == "failed"
    assert "Xem lý do" in client.get("/ke-hoach/").content.decode()  # said on Kế hoạch too
    resp = client.get(f"{JOB}{job}/")
    page = resp.content.decode()
    assert resp.status_code == 400 and "Không đọc được kế hoạch" in page
    assert "thong-bao.txt" in page and "ke-hoach.txt" not in page  # the officer's name
    assert uploads_left(data_dir(station)) == []
    assert not plans_dir(station).exists() or not any(
        p for p in plans_dir(station).iterdir() if not p.name.startswith("."))
    assert AuditEntry.objects.filter(action="plan.import_failed").count() == 1
    assert "Xem lý do" not in client.get("/ke-hoach/").content.decode()  # once opened


@pytest.mark.django_db
@pytest.mark.parametrize("files,said,status", [
    ([("ke-hoach.exe", b"MZ\x90\x00")], "chỉ nhận kế hoạch dạng", 400),
    ([("ke-hoach.docx", b"MZ\x90\x00" + b"x" * 100)], "không khớp với đuôi .docx", 400),
    ([("trang-1.jpg", b"%PDF-1.4\n")], "không phải ảnh JPEG", 400),
    ([("ke-hoach.doc", b"PK\x03\x04rest")], "không khớp với đuôi .doc", 400),
    ([("ke-hoach.txt", b"")], "tệp trống (0 byte)", 400),
    ([("a.docx", b"PK\x03\x04"), ("b.jpg", b"\xff\xd8\xff")], "Chỉ tải lên MỘT tệp", 400),
    ([], "Hãy chọn tệp kế hoạch", 400),
])
def test_wrong_uploads_are_refused_in_vietnamese_and_leave_nothing(client_as, station, files,
                                                                    said, status):
    client = client_as("editor")
    resp = send(client, *files)
    assert resp.status_code == status
    assert said in resp.content.decode()
    assert uploads_left(data_dir(station)) == [] and not ImportJob.objects.exists()


@pytest.mark.django_db
def test_size_limits_are_said_before_and_after_reading_the_body(client_as, station, settings):
    settings.PLAN_MAX_BYTES = 1000
    settings.PLAN_IMPORT_MAX_BYTES = 2500
    client = client_as("editor")
    resp = send(client, ("ke-hoach.txt", SAMPLE.read_bytes()[:1500]))  # one file too big
    assert resp.status_code == 413 and "tệp quá lớn (0.0 MB)" in resp.content.decode()
    photos = [(f"trang-{i}.jpg", b"\xff\xd8\xff" + b"x" * 900) for i in range(3)]
    resp = send(client, *photos)  # each fits, together they do not
    assert resp.status_code == 413 and "Các ảnh cộng lại quá lớn" in resp.content.decode()
    big = b"\xff\xd8\xff" + b"x" * 80_000  # over the total before the body is read
    resp = send(client, ("trang-1.jpg", big))
    assert resp.status_code == 413 and "tệp quá lớn" in resp.content.decode()
    assert uploads_left(data_dir(station)) == [] and not ImportJob.objects.exists()


@pytest.mark.django_db
def test_progress_one_job_per_user_and_a_restart(client_as, station, django_user_model):
    client = client_as("editor")
    user = django_user_model.objects.get(username="bientap")
    # a job whose worker is still on page 2 of 5 (its report, as the worker writes it)
    job = ImportJob.objects.create(user=user, created="2026-11-30T12:00+07:00",
                                   names=["a.jpg"], photos=True, pages_total=5)
    plan_import._LIVE[job.id] = plan_import.Live(done=1, total=5, waiting=False)
    try:
        status = client.get(f"{JOB}{job.id}/trang-thai.json").json()
        assert status == {"state": "running", "done": 1, "total": 5,
                          "text": "Đang đọc trang 2/5…", "finished": False}
        page = client.get(f"{JOB}{job.id}/").content.decode()
        assert 'http-equiv="refresh"' in page  # followed without JavaScript too
        assert "Đang đọc trang 2/5…" in page
        assert "Xem tiến độ" in client.get("/ke-hoach/").content.decode()
        resp = send(client, ("ke-hoach.txt", SAMPLE.read_bytes()))
        assert resp.status_code == 409 and "đang được đọc" in resp.content.decode()
    finally:
        del plan_import._LIVE[job.id]
    # the console restarted: no worker has the job any more
    leftover = data_dir(station) / "nhap-ke-hoach" / "job-old"
    leftover.mkdir(parents=True)
    (leftover / "trang-01.jpg").write_bytes(b"\xff\xd8\xff")
    ImportJob.objects.filter(pk=job.pk).update(workdir=str(leftover))
    page = client.get(f"{JOB}{job.id}/").content.decode()
    assert "khởi động lại" in page and "Không đọc được kế hoạch" in page
    assert not leftover.exists()
    assert ImportJob.objects.get(pk=job.pk).state == "failed"
    # and a new upload may start
    assert finish(client, started(send(client, ("ke-hoach.txt", SAMPLE.read_bytes()))))


@pytest.mark.django_db
def test_plans_are_read_in_turn(client_as, station):
    client = client_as("editor")
    with plan_import._turn:  # another officer's plan is being read
        job = started(send(client, ("ke-hoach.txt", SAMPLE.read_bytes())))
        status = client.get(f"{JOB}{job}/trang-thai.json").json()
        assert status["state"] == "running" and "Đang chờ đến lượt" in status["text"]
        assert "Đang chờ đến lượt" in client.get(f"{JOB}{job}/").content.decode()
    assert finish(client, job)["state"] == "done"


@pytest.mark.django_db
def test_two_polls_at_once_keep_the_result(client_as, station, django_user_model, tmp_path):
    from loa import station as svc
    from loa.console import station as console_station
    from loa.station import plans as st_plans

    client_as("editor")
    user = django_user_model.objects.get(username="bientap")
    job = ImportJob.objects.create(user=user, created="2026-11-30T12:00+07:00",
                                   names=["ke-hoach.txt"])
    copy = tmp_path / "ke-hoach.txt"
    copy.write_bytes(SAMPLE.read_bytes())
    up = st_plans.keep_plan(svc.read_plan(copy), [copy], ["ke-hoach.txt"],
                            console_station.plans_dir(), by="x",
                            now=console_station.clock().now())
    plan_import._LIVE[job.id] = plan_import.Live(finished=True, entry=up)
    first, second = ImportJob.objects.get(pk=job.pk), ImportJob.objects.get(pk=job.pk)
    assert plan_import._sync(first).state == "done"
    assert plan_import._sync(second).state == "done"  # not "cut off by a restart"
    assert ImportJob.objects.get(pk=job.pk).result["topics"] == 19
    assert AuditEntry.objects.filter(action="plan.upload").count() == 1


@pytest.mark.django_db
def test_roles_owners_and_one_menu_entry(client_as, station, make_user):
    from django.test import Client

    editor = client_as("editor")
    job = started(send(editor, ("ke-hoach.txt", SAMPLE.read_bytes())))
    finish(editor, job)
    for role in ("leader", "technician", "admin"):
        c = client_as(role)
        assert c.get("/ke-hoach/").status_code == 403
        assert c.get(f"{JOB}{job}/").status_code == 403
        assert c.get(f"{JOB}{job}/trang-thai.json").status_code == 403
        assert "Nhập kế hoạch" not in c.get("/").content.decode()
    home = editor.get("/").content.decode()
    assert 'href="/ke-hoach/"' in home and "Nhập kế hoạch" not in home  # one way in
    # another officer's reading is not theirs to see
    other = Client()
    other.force_login(make_user("bientap2", "editor"))
    assert other.get(f"{JOB}{job}/").status_code == 404
    assert other.get(f"{JOB}{job}/trang-thai.json").status_code == 404


@pytest.mark.django_db
def test_the_day_old_addresses_lead_to_ke_hoach(client_as, station):
    editor = client_as("editor")
    assert editor.get("/nhap-ke-hoach/")["Location"] == "/ke-hoach/"
    assert editor.get("/nhap-ke-hoach/7/")["Location"] == f"{JOB}7/"
    assert client_as("leader").get("/nhap-ke-hoach/").status_code == 403


@pytest.mark.django_db
def test_operator_text_is_escaped(client_as, station):
    client = client_as("editor")
    job = started(send(client, ("<i>x.txt", "Chỉ một dòng.\n".encode())))
    finish(client, job)
    page = client.get(f"{JOB}{job}/").content.decode()
    assert "&lt;i&gt;x.txt" in page and "<i>x" not in page


@pytest.mark.django_db
def test_a_csrf_less_post_is_refused(station, make_user):
    from django.test import Client

    user = make_user("bientap2", "editor")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    resp = client.post(URL, {"plan": SimpleUploadedFile("ke-hoach.txt", SAMPLE.read_bytes())})
    assert resp.status_code == 403
    assert not ImportJob.objects.exists()


# --- a phone ----------------------------------------------------------------------------------


ONE_PAGE = """UBND XÃ BA VÌ
Số: 12/KH-UBND
Ba Vì, ngày 05 tháng 3 năm 2026

KẾ HOẠCH
Tuyên truyền phòng, chống dịch sốt xuất huyết năm 2026

I. MỤC ĐÍCH, YÊU CẦU
1. Nâng cao nhận thức của người dân về phòng, chống bệnh sốt xuất huyết.

II. NỘI DUNG TUYÊN TRUYỀN
1. Tuyên truyền về cách diệt lăng quăng, bọ gậy tại mỗi hộ gia đình.
2. Tuyên truyền về dấu hiệu của bệnh và việc đưa người bệnh đến trạm y tế xã.

III. TỔ CHỨC THỰC HIỆN
Văn phòng UBND xã chủ trì thực hiện kế hoạch này.
"""


def two_photos(png: Path, folder: Path) -> list[Path]:
    """The page cut in two at the blank row nearest its middle, as two JPEG photos: the
    title on the first, the topics on the second (one page of OCR in all)."""
    from PIL import Image

    im = Image.open(png).convert("L")
    w, h = im.size
    ink = [sum(1 for x in range(0, w, 4) if im.getpixel((x, y)) < 128) for y in range(h)]
    top = next(y for y in range(h) if ink[y])  # the first line of text
    bottom = max(y for y in range(h) if ink[y])
    middle = (top + bottom) // 2
    cut = min((y for y in range(top, bottom) if not ink[y]), key=lambda y: abs(y - middle))
    out = []
    for i, box in enumerate(((0, 0, w, cut), (0, cut, w, h)), 1):
        path = folder / f"anh-{i}.jpg"
        im.crop(box).save(path, quality=85)
        out.append(path)
    return out


@pytest.mark.browser
def test_phone_uploads_a_doc_and_photos_on_ke_hoach_sees_progress_and_drafts(
        live_console, phone, tmp_path):
    from plan_docs import convert, word_document

    from loa import station as svc

    # an old Word file, made by LibreOffice
    doc = convert(word_document(SAMPLE, tmp_path / "ke-hoach-cu.docx"), "doc", tmp_path)
    # a one-page plan typed in Word, printed (LibreOffice), photographed in two halves
    txt = tmp_path / "mot-trang.txt"
    txt.write_text(ONE_PAGE, encoding="utf-8")
    clean = svc.read_plan(txt)
    pdf = convert(word_document(txt, tmp_path / "mot-trang.docx"), "pdf", tmp_path)
    subprocess.run(["pdftoppm", "-r", "300", "-png", "-f", "1", "-l", "1", "-singlefile",
                    str(pdf), str(tmp_path / "trang")], check=True, timeout=120)
    photos = two_photos(tmp_path / "trang.png", tmp_path)

    live = live_console()
    login(phone, live, "editor")
    phone.goto(live.url + "/ke-hoach/")
    assert phone.locator("nav.menu a", has_text="Nhập kế hoạch").count() == 0
    screenshot(phone, "plans-upload-form")

    phone.set_input_files("#id_plan", str(doc))
    phone.get_by_role("button", name="Tải lên").click()
    phone.locator("#cac-muc").wait_for(timeout=120000)  # the reading page leads to the plan
    assert phone.url.endswith("/ke-hoach/ke-hoach-cu/")
    assert "Các mục nội dung (19)" in phone.content()
    assert "UBND thành phố Hà Nội" in phone.locator("#thong-tin").inner_text()
    phone.get_by_role("button", name="Tạo bản nháp").click()
    assert "Đã tạo 19 bản tin nháp." in phone.locator(".messages").inner_text()
    assert (live.schedule.parent / "bulletins" / "ke-hoach-cu.yaml").exists()

    phone.goto(live.url + "/ke-hoach/")
    phone.set_input_files("#id_plan", [str(p) for p in photos])  # in page order
    phone.get_by_role("button", name="Tải lên").click()
    phone.locator("#tien-do-chu").wait_for(timeout=30000)  # progress, page by page
    assert "Đang" in phone.locator("#tien-do-chu").inner_text()
    screenshot(phone, "plans-reading-progress")
    job_url = phone.url
    phone.locator("#cac-muc").wait_for(timeout=180000)
    status = phone.request.get(job_url + "trang-thai.json").json()
    assert (status["done"], status["total"]) == (2, 2)  # the reader reported its pages
    assert phone.url.endswith("/ke-hoach/ke-hoach-12-kh-ubnd/")  # named by its number
    assert phone.locator("h1").inner_text() == clean.title
    topics = phone.locator("#cac-muc").inner_text()
    for t in clean.topics:
        assert t.path in topics
    assert "diệt lăng quăng" in topics
    assert "OCR" in phone.locator("#canh-bao").inner_text()  # which pages, how sure
    assert "2 ảnh chụp các trang" in phone.locator("#thong-tin").inner_text()
    screenshot(phone, "plans-photos-read")
    phone.get_by_role("button", name="Tạo bản nháp").click()  # from the kept reading: no OCR
    assert f"Đã tạo {len(clean.topics)} bản tin nháp." in phone.locator(".messages").inner_text()
    assert (live.schedule.parent / "bulletins" / "ke-hoach-12-kh-ubnd.yaml").exists()
    pages = live.schedule.parent / "plans" / "ke-hoach-12-kh-ubnd.anh"
    assert sorted(p.name for p in pages.iterdir()) == ["trang-01.jpg", "trang-02.jpg"]
    assert (pages.parent / ".ke-hoach-12-kh-ubnd.da-doc.json").is_file()  # kept as read

    phone.goto(live.url + "/ke-hoach/")
    listed = phone.locator("table.list").inner_text()
    assert clean.title in listed and f"{len(clean.topics)} bản tin" in listed
    assert "Các mục" not in listed and "19 bản tin" in listed  # both plans, with drafts
    screenshot(phone, "plans-listed")
    assert list((live.data / "nhap-ke-hoach").iterdir()) == []
