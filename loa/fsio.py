"""Atomic file writes: a reader never sees a half-written file.

A rewritten file keeps its mode (and owner when we may set it): the `loa` service user
must still read a bulletins file an officer approved as root. A new file gets the mode
open() would give it (0666 minus the umask), not mkstemp's 0600. Only regular files are
ever replaced: `-o /dev/null` or a FIFO is refused, never turned into a file. Every
file-system failure of the write becomes a FileProblem naming the file: a LoaError for
the officer, an OSError (errno kept) for code that handles those."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from loa.errors import LoaError

# errno -> what the officer is told; the file's name is printed before it
_REASONS_VI = {
    errno.EACCES: "không đủ quyền truy cập tệp hoặc thư mục này",
    errno.EPERM: "không được phép thao tác trên tệp này",
    errno.EISDIR: "đây là một thư mục, cần một tệp",
    errno.ENOTDIR: "đường dẫn đi qua một thứ không phải thư mục",
    errno.ENOENT: "không có tệp hoặc thư mục này",
    errno.ENOSPC: "đĩa đã đầy, không ghi được",
    errno.EDQUOT: "đã hết hạn mức dung lượng đĩa, không ghi được",
    errno.EFBIG: "tệp quá lớn so với ổ đĩa",
    errno.EROFS: "ổ đĩa chỉ cho đọc, không ghi được",
    errno.EEXIST: "đã có một tệp hoặc thư mục trùng tên",
    errno.ELOOP: "đường dẫn có liên kết vòng lặp",
    errno.ENAMETOOLONG: "tên tệp quá dài",
    errno.EIO: "lỗi đọc/ghi đĩa (ổ đĩa hoặc thẻ nhớ có thể bị hỏng)",
    errno.ENXIO: "thiết bị không sẵn sàng",
    errno.EBUSY: "tệp đang bị chiếm dụng",
    errno.ETXTBSY: "tệp đang bị chiếm dụng",
    errno.EMFILE: "mở quá nhiều tệp cùng lúc",
}
# raised by a write inside an atomic_open block: the output file's problem, not the caller's
_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS)


class FileProblem(LoaError, OSError):
    """A LoaError for the officer that is still an OSError, errno kept, for code that
    handles file-system failures itself (the daemon on a full disk)."""

    def __init__(self, message: str, path: str | Path | None = None, err: int | None = None):
        LoaError.__init__(self, message, path)
        self.errno = err
        self.filename = None if path is None else str(path)


def os_error_vi(exc: OSError) -> str | None:
    """The Vietnamese reason for an operator's file-system error, None if not one."""
    return _REASONS_VI.get(exc.errno)


def loa_error(exc: OSError, path: str | Path | None = None) -> FileProblem:
    """A FileProblem for `exc`, naming `path` (or the file the OS named)."""
    if isinstance(exc, FileProblem):
        return exc
    reason = os_error_vi(exc) or f"lỗi hệ thống tệp ({exc.strerror or exc})"
    return FileProblem(reason + ".", path if path is not None else exc.filename, exc.errno)


def _umask() -> int:
    # /proc: reading the umask by setting it would race with other threads creating files
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode open() gives a new file: 0666 minus the umask."""
    return 0o666 & ~_umask()


def _kind_vi(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "một thư mục"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "một thiết bị"
    if stat.S_ISFIFO(mode):
        return "một ống dẫn (FIFO)"
    if stat.S_ISSOCK(mode):
        return "một socket"
    return "không phải tệp thường"


def check_target(path: str | Path) -> tuple[Path, os.stat_result | None]:
    """Where a write to `path` really lands (a symlink is followed, the link kept) and the
    stat of what is there now. FileProblem if it is not a regular file or its folder is not
    a writable folder. Cheap: call it before long work so the officer learns at once."""
    shown = Path(path)
    real = Path(os.path.realpath(shown))
    try:
        st = os.stat(real)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise loa_error(exc, shown) from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise FileProblem(f"đây là {_kind_vi(st.st_mode)}, không phải tệp thường: loa không "
                          "ghi đè lên nó; hãy chọn một tên tệp.", shown,
                          errno.EISDIR if stat.S_ISDIR(st.st_mode) else errno.EEXIST)
    parent = real.parent
    try:
        pst = os.stat(parent)
    except FileNotFoundError:
        pst = None  # created by the write
    except OSError as exc:
        raise loa_error(exc, shown) from None
    if pst is not None:
        if not stat.S_ISDIR(pst.st_mode):
            raise FileProblem(f"{parent} không phải thư mục.", shown, errno.ENOTDIR)
        if not os.access(parent, os.W_OK | os.X_OK):
            try:
                readonly = bool(os.statvfs(parent).f_flag & os.ST_RDONLY)
            except OSError:
                readonly = False
            raise FileProblem(f"ổ đĩa chứa thư mục {parent} chỉ cho đọc, không ghi được."
                              if readonly else f"không có quyền ghi vào thư mục {parent}.",
                              shown, errno.EROFS if readonly else errno.EACCES)
    return real, st


def _make_parent(real: Path, shown: Path) -> None:
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file stands where a folder of the path should be
        raise FileProblem("đường dẫn đi qua một tệp, không phải thư mục.", shown,
                          errno.ENOTDIR) from None
    except OSError as exc:
        raise loa_error(exc, shown) from None


def _match_mode(fd: int, st: os.stat_result | None) -> None:
    if st is None:
        os.fchmod(fd, new_file_mode())
        return
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
        # root keeps the owner; a user may still keep a group it belongs to
        with contextlib.suppress(OSError):
            os.fchown(fd, st.st_uid, st.st_gid)
            return
        with contextlib.suppress(OSError):
            os.fchown(fd, -1, st.st_gid)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temp file beside `path`; rename it over `path` only if the block succeeds."""
    shown = Path(path)
    real, st = check_target(shown)
    _make_parent(real, shown)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".part", dir=real.parent)
    except OSError as exc:
        raise loa_error(exc, shown) from None
    try:
        try:
            _match_mode(fd, st)
            fh = os.fdopen(fd, mode, **kwargs)
        except BaseException:
            os.close(fd)
            raise
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, real)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and (exc.errno in _WRITE_ERRNOS
                                         or exc.filename in (tmp, str(real))):
            raise loa_error(exc, shown) from None
        raise


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    with atomic_open(path, "w", encoding=encoding, newline="") as fh:
        fh.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_copy(src: str | Path, path: str | Path) -> None:
    """Copy a finished file (say, from a converter's temp folder) atomically to `path`."""
    import shutil

    with open(src, "rb") as inp, atomic_open(path, "wb") as fh:
        shutil.copyfileobj(inp, fh, 1 << 20)


def temp_path_beside(path: str | Path) -> Path:
    """A fresh temp name in the same folder, for tools that insist on writing a path."""
    shown = Path(path)
    real, st = check_target(shown)
    _make_parent(real, shown)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{real.stem}.", suffix=real.suffix,
                                   dir=real.parent)
    except OSError as exc:
        raise loa_error(exc, shown) from None
    try:
        _match_mode(fd, st)
    finally:
        os.close(fd)
    return Path(tmp)
