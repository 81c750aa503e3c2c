"""Old and open word-processor files (.doc, .odt, .rtf) to .docx through LibreOffice.

LibreOffice is the one well-kept reader of all three (Word 97 binary, OpenDocument, RTF);
the .docx it writes is then read by the plan reader like any other Word file.
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from loa.errors import LoaError

CONVERT_SECONDS = 120.0  # a real plan converts in ~3 s (LibreOffice's start-up included)
TIMEOUT_ENV = "LOA_SOFFICE_TIMEOUT"  # seconds, for a slow machine or for tests
INSTALL_HINT = "sudo apt install libreoffice-writer-nogui"

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Word 97-2003, and encrypted Office files
_ODF_TEXT = b"application/vnd.oasis.opendocument.text"

# What a file really holds, whatever its name says.
DOC, RTF, ODT, DOCX, PDF, TEXT = "doc", "rtf", "odt", "docx", "pdf", "text"
_SUFFIX = {DOC: ".doc", RTF: ".rtf", ODT: ".odt"}
_NAMES = {DOC: "Word cũ (.doc)", RTF: "RTF", ODT: "OpenDocument (.odt)"}
# The import filter named, not guessed: unsure, LibreOffice falls back to reading any
# bytes as plain text, and a damaged .doc would come out as a page of noise.
_FILTERS = {DOC: "MS Word 97", RTF: "Rich Text Format", ODT: "writer8"}


def sniff(path: Path, head: bytes) -> str:
    """The real kind of a word-processor file from its first bytes (and zip listing)."""
    if head.startswith(OLE2):
        with path.open("rb") as f:
            start = f.read(1_000_000)
        if _utf16(b"EncryptedPackage") in start:
            # an Office 2007+ file under a password is stored inside an OLE2 container
            raise LoaError(_LOCKED.format("Word"), path)
        if _doc_encrypted(path):
            raise LoaError(_LOCKED.format("Word"), path)
        return DOC
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{\\rtf"):
        return RTF
    if head.startswith(b"%PDF"):
        return PDF
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                sizes = {i.filename: i.file_size for i in z.infolist()}
                names = set(sizes)

                def small(name: str, limit: int) -> bytes:  # a zip bomb's part is not read
                    return z.read(name) if sizes.get(name, limit + 1) <= limit else b""

                mimetype = small("mimetype", 200)
                manifest = small("META-INF/manifest.xml", 1_000_000)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, KeyError):
            raise LoaError("tệp nén bên trong bị hỏng nên không đọc được; hãy mở bằng Word "
                           "hoặc LibreOffice rồi lưu lại thành .docx.", path) from None
        if any(n.startswith("word/") for n in names):
            return DOCX
        if mimetype.startswith(_ODF_TEXT):
            if b"encryption-data" in manifest:  # each part encrypted under the password
                raise LoaError(_LOCKED.format("OpenDocument"), path)
            return ODT
        raise LoaError("tệp nén này không phải văn bản Word hay OpenDocument (có thể là bảng "
                       "tính hoặc trình chiếu); hãy lưu kế hoạch thành .docx.", path)
    if b"\0" not in head or head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return TEXT  # a plan saved as text under a Word name; the text reader checks it
    raise LoaError("không nhận ra định dạng tệp: tệp bị hỏng hoặc không phải văn bản Word, "
                   "OpenDocument hay RTF; hãy mở bằng Word hoặc LibreOffice rồi lưu lại "
                   "thành .docx.", path)


_LOCKED = ("tệp {} được đặt mật khẩu nên không đọc được; hãy xin bản không mật khẩu, hoặc "
           "mở tệp, bỏ mật khẩu rồi lưu lại thành .docx.")


def _doc_encrypted(path: Path) -> bool:
    """Whether a Word 97 file is under a password: the fEncrypted or fObfuscated flag of
    its FIB, at the start of the WordDocument stream of the OLE2 container. Unsure (an odd
    or damaged container) is False: LibreOffice then says what it can."""
    try:
        with path.open("rb") as f:
            header = f.read(512)
            shift = struct.unpack_from("<H", header, 0x1E)[0]
            if not 9 <= shift <= 12:
                return False
            size = 1 << shift

            def sector(n: int) -> bytes:
                f.seek((n + 1) * size)
                return f.read(size)

            fat: list[int] = []  # from the header's 109 DIFAT slots: files up to ~6.8 MB
            for slot in struct.unpack_from("<109I", header, 0x4C):
                if slot >= 0xFFFFFFFA:
                    break
                fat.extend(struct.unpack(f"<{size // 4}I", sector(slot)))
            n, seen = struct.unpack_from("<I", header, 0x30)[0], set()
            while n < len(fat) and n not in seen:  # the directory's chain of sectors
                seen.add(n)
                data = sector(n)
                for off in range(0, len(data) - 127, 128):
                    name_len = struct.unpack_from("<H", data, off + 0x40)[0]
                    name = data[off:off + max(0, name_len - 2)].decode("utf-16-le", "replace")
                    if name == "WordDocument":
                        fib = sector(struct.unpack_from("<I", data, off + 0x74)[0])
                        if fib[:2] != b"\xec\xa5":  # wIdent of a Word FIB
                            return False
                        return bool(struct.unpack_from("<H", fib, 0x0A)[0] & 0x8100)
                n = fat[n]
    except (OSError, struct.error):
        return False
    return False


def _utf16(name: bytes) -> bytes:
    return name.decode("ascii").encode("utf-16-le")


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def timeout_seconds() -> float:
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(raw)
    except ValueError:
        return CONVERT_SECONDS
    return value if value > 0 else CONVERT_SECONDS


@contextmanager
def as_docx(path: Path, kind: str) -> Iterator[Path]:
    """Convert `path` (of real kind DOC, RTF or ODT) to a .docx in a private temporary
    folder, yield it, and remove the folder. The input is only read, never written."""
    exe = soffice()
    if exe is None:
        raise LoaError(f"cần LibreOffice để đọc tệp {_NAMES[kind]} nhưng máy chưa cài; hãy cài "
                       f"bằng lệnh: {INSTALL_HINT} (hoặc mở tệp bằng Word và lưu lại thành "
                       ".docx).", path)
    with tempfile.TemporaryDirectory(prefix="loa-convert-") as tmp:
        work = Path(tmp)
        # A copy under a plain name: the officer's file stays untouched, a name with
        # spaces, a leading "-" or a wrong suffix cannot confuse LibreOffice, and the
        # output name is known.
        src = work / f"ke-hoach{_SUFFIX[kind]}"
        shutil.copyfile(path, src)
        outdir = work / "out"
        # A private profile: a second import, or an open LibreOffice window, has its own.
        # Locked down: an uploaded file runs no macro and fetches nothing by its links.
        (work / "profile" / "user").mkdir(parents=True)
        (work / "profile" / "user" / "registrymodifications.xcu").write_text(
            _PROFILE, encoding="utf-8")
        profile = (work / "profile").as_uri()
        cmd = [exe, f"-env:UserInstallation={profile}", "--headless", "--norestore",
               "--nolockcheck", f"--infilter={_FILTERS[kind]}",
               "--convert-to", "docx:MS Word 2007 XML", "--outdir", str(outdir), str(src)]
        _run(cmd, path, kind, work)
        out = outdir / "ke-hoach.docx"
        if not out.is_file() or out.stat().st_size == 0:
            raise LoaError(f"LibreOffice không chuyển được tệp {_NAMES[kind]} (không tạo ra "
                           "tệp nào): tệp bị hỏng, đặt mật khẩu, hoặc không đúng định dạng; "
                           "hãy mở bằng Word hoặc LibreOffice rồi lưu lại thành .docx.", path)
        yield out


def _item(path: str, prop: str, value: str) -> str:
    return (f'<item oor:path="{path}"><prop oor:name="{prop}" oor:op="fuse">'
            f'<value>{value}</value></prop></item>')


_SEC = "/org.openoffice.Office.Common/Security/Scripting"
_PROFILE = ('<?xml version="1.0" encoding="UTF-8"?>\n<oor:items '
            'xmlns:oor="http://openoffice.org/2001/registry" '
            'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n' + "\n".join([
                _item(_SEC, "MacroSecurityLevel", "3"),  # very high: none run
                _item(_SEC, "DisableMacrosExecution", "true"),
                _item(_SEC, "BlockUntrustedRefererLinks", "true"),
                # links (images, sections, OLE) never updated from their source
                _item("/org.openoffice.Office.Writer/Content/Update", "Link", "2"),
                # any fetch that is still tried goes to a closed local port
                _item("/org.openoffice.Inet/Settings", "ooInetProxyType", "1"),
                _item("/org.openoffice.Inet/Settings", "ooInetHTTPProxyName", "127.0.0.1"),
                _item("/org.openoffice.Inet/Settings", "ooInetHTTPProxyPort", "9"),
                _item("/org.openoffice.Inet/Settings", "ooInetHTTPSProxyName", "127.0.0.1"),
                _item("/org.openoffice.Inet/Settings", "ooInetHTTPSProxyPort", "9"),
                _item("/org.openoffice.Inet/Settings", "ooInetNoProxy", ""),
            ]) + "\n</oor:items>\n")
# curl (LibreOffice's HTTP) honours these too: nothing reaches the network
_NO_NET = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
           "all_proxy": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "HTTPS_PROXY": "http://127.0.0.1:9", "ALL_PROXY": "http://127.0.0.1:9",
           "no_proxy": "", "NO_PROXY": ""}


def _run(cmd: list[str], path: Path, kind: str, work: Path) -> None:
    seconds = timeout_seconds()
    env = dict(os.environ, HOME=str(work), **_NO_NET)  # nothing written to the officer's home
    try:
        # Its own process group, so a timeout kills soffice.bin too, not just the wrapper.
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, cwd=work,
                                start_new_session=True)
    except OSError as exc:
        raise LoaError(f"không chạy được LibreOffice ({exc.strerror or exc}); hãy cài lại bằng "
                       f"lệnh: {INSTALL_HINT}.", path) from None
    try:
        proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise LoaError(f"LibreOffice chuyển tệp {_NAMES[kind]} mất quá {seconds:g} giây mà chưa "
                       "xong; tệp có thể bị hỏng. Hãy mở bằng Word hoặc LibreOffice, lưu lại "
                       "thành .docx rồi thử lại.", path) from None
    except BaseException:  # the reader's own time limit, Ctrl-C: leave no LibreOffice behind
        _kill_group(proc)
        raise


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.communicate()
