"""Run fuzz cases through the real CLI (`python -m loa`) in a subprocess and classify them.

Each case: one mutated file in a fresh directory, one command, its own data dir, an address
space limit (a bomb fails fast instead of eating the machine), a wall-clock timeout, and the
child's own peak RSS from wait4. Failing cases are copied with their stderr for reproduction.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import mutators as m
from .seeds import BULLETINS_REL, Seeds, child_env

TIMEOUT = 10.0  # CPU seconds: more is a hang
WALL_FACTOR = 4  # a run blocked (no CPU) this many times TIMEOUT on the wall clock is a hang too
TICK = os.sysconf("SC_CLK_TCK")
MEMORY_MB = 500  # peak RSS: more is over memory
RLIMIT_AS = 1 << 30  # address space cap, so a bomb dies instead of swapping the machine
APPROVER = "Nguyễn Văn An"

FLAGS = ("tracebacks", "hangs", "over_memory", "wrong_exit", "errors_without_loi",
         "errors_without_file", "errors_without_line", "english_errors", "long_errors",
         "wrong_results")
# Messages about a whole file, where no line can be named.
WHOLE_FILE = re.compile(r"không tìm thấy|không có chữ|không có bản tin|không có tệp|thư mục|quyền|"
                        r"không đọc được|trống|rỗng|quá lớn|quá dài|không phải tệp|không mở được|hỏng|"
                        r"không phải văn bản|tệp thường")
VIETNAMESE = re.compile(r"[àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữự"
                        r"ỳýỷỹỵ]", re.IGNORECASE)
# PyYAML / Python wording that leaks into an operator message
ENGLISH = re.compile(r"mapping values are not allowed|could not find expected|while scanning|"
                     r"while parsing|found character|did not find expected|found undefined|"
                     r"position \d+|codec can't|invalid literal|unacceptable character|"
                     r"could not determine a constructor|expected <|found unhashable|"
                     r"object has no attribute|is not|No such file|Permission denied|"
                     r"Is a directory|Errno", re.IGNORECASE)
LINE = re.compile(r", (dòng|đoạn|trang) \d+")


def closed_port() -> int:
    """A local port nobody listens on: gTTS fails at once, offline."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@dataclass
class Case:
    index: int
    kind: str  # schedule, bulletins, template, plan_txt, plan_docx, plan_pdf
    command: str  # validate, next, render, plan_import, bulletin_approve, bulletin_list
    mutation: str
    oracle: str | None
    files: dict[str, bytes]  # relative path -> content, written into the case directory
    target: str  # the mutated file (relative)
    argv: list[str]
    setup: str = ""  # for kind "paths": what the path argument is made into

    @property
    def id(self) -> str:
        return f"{self.index:05d}-{self.kind}-{self.command}"


@dataclass
class Run:
    rc: int | None
    stdout: str
    stderr: str
    seconds: float
    rss_mb: float
    timed_out: bool
    cpu: float = 0.0  # user + system seconds: a busy hang or a blocked one


@dataclass
class Result:
    case: Case
    run: Run
    flags: dict[str, str] = field(default_factory=dict)  # flag -> detail

    @property
    def status(self) -> str:
        if self.flags:
            return "fail"
        return "ok" if self.run.rc == 0 else "clean_error"


KINDS = {"schedule": 32, "bulletins": 26, "template": 8, "plan_txt": 13, "plan_docx": 10,
         "plan_pdf": 6, "paths": 5}
# kind "paths": the file argument itself is wrong (setup, command)
PATH_CASES = [("in_dir", "validate"), ("in_dir", "bulletin_list"), ("in_dir", "bulletin_approve"),
              ("in_dir", "plan_import"), ("in_missing", "next"), ("in_missing", "plan_import"),
              ("out_dir", "plan_import"), ("out_missing_dir", "plan_import"),
              ("out_fifo", "plan_import"), ("out_new", "plan_import"),
              ("out_existing_0640", "plan_import")]
COMMANDS = {
    "schedule": ["validate", "validate", "next", "next", "render"],
    "bulletins": ["bulletin_list", "bulletin_approve", "bulletin_approve", "validate", "next",
                  "render"],
    "template": ["plan_import"], "plan_txt": ["plan_import"], "plan_docx": ["plan_import"],
    "plan_pdf": ["plan_import"],
}


def make_case(seeds: Seeds, seed: int, index: int) -> Case:
    """Case `index` of campaign `seed`: the same files and command on every machine."""
    rng = random.Random(f"{seed}:{index}")
    kinds = [k for k in KINDS if k != "plan_pdf" or seeds.pdf]
    kind = rng.choices(kinds, weights=[KINDS[k] for k in kinds])[0]
    if kind == "paths":
        return _path_case(seeds, rng, index)
    command = rng.choice(COMMANDS[kind])
    oracle = None
    bulletins = seeds.render_bulletins if command == "render" else seeds.bulletins
    files = {"ba-vi.yaml": seeds.schedule, BULLETINS_REL: bulletins}
    if kind == "schedule":
        target = "ba-vi.yaml"
        files[target], mutation, oracle = m.yaml_mutation(rng, seeds.schedule)
    elif kind == "bulletins":
        target = BULLETINS_REL
        files[target], mutation, _ = m.yaml_mutation(rng, bulletins, semantic=False)
    elif kind == "template":
        files = {"ke-hoach.txt": seeds.plans_txt["ba-vi-2026.txt"]}
        target = "mau.yaml"
        files[target], mutation, oracle = m.template_mutation(rng, seeds.template)
    else:
        if kind == "plan_txt":
            name = rng.choice(sorted(seeds.plans_txt))
            files = {name: seeds.plans_txt[name]}
            files[name], mutation, _ = m.plan_txt_mutation(rng, seeds.plans_txt[name])
        elif kind == "plan_docx":
            name = "ke-hoach.docx"
            body, mutation, _ = m.docx_mutation(rng, seeds.docx)
            files = {name: body}
        else:
            name = "ke-hoach.pdf"
            body, mutation, _ = m.pdf_mutation(rng, seeds.pdf)
            files = {name: body}
        target = name
    if command == "plan_import":
        argv = ["plan", "import", target, "-o", "ban-tin.yaml"]
        if kind == "template":
            argv = ["plan", "import", "ke-hoach.txt", "-o", "ban-tin.yaml", "--template", target]
    elif command == "bulletin_list":
        argv = ["bulletin", "list", target]
    elif command == "bulletin_approve":
        ids = re.findall(rb"(?m)^- id: (\S+)", seeds.bulletins)
        argv = ["bulletin", "approve", target, rng.choice(ids).decode(), "--by", APPROVER]
    else:
        argv = [command, "ba-vi.yaml"]
    return Case(index, kind, command, mutation, oracle, files, target, argv)


def _path_case(seeds: Seeds, rng: random.Random, index: int) -> Case:
    setup, command = rng.choice(PATH_CASES)
    files = {"ba-vi.yaml": seeds.schedule, BULLETINS_REL: seeds.bulletins,
             "ke-hoach.txt": seeds.plans_txt["ba-vi-2026.txt"]}
    out = {"out_dir": "ra", "out_missing_dir": "khong-co/ban-tin.yaml", "out_fifo": "fifo.yaml",
           "out_new": "ban-tin.yaml", "out_existing_0640": "ban-tin.yaml"}.get(setup)
    if command == "plan_import":
        target = out or ("ke-hoach.txt" if setup == "in_dir" else "khong-co.txt")
        argv = ["plan", "import", "ke-hoach.txt" if out else target, "-o", out or "ban-tin.yaml"]
    elif command.startswith("bulletin"):
        target = BULLETINS_REL
        argv = ["bulletin", command.split("_")[1], target]
        if command == "bulletin_approve":
            argv += ["IV.1.b", "--by", APPROVER]
    else:
        target = "lich.yaml" if setup == "in_dir" else "khong-co.yaml"
        argv = [command, target]
    if setup == "in_dir":
        files.pop(target, None)
    return Case(index, "paths", command, f"path:{setup}", None, files, target, argv, setup)


def _apply_setup(case: Case, workdir: Path) -> None:
    p = workdir / case.target
    if case.setup in ("in_dir", "out_dir"):
        p.mkdir(parents=True, exist_ok=True)
    elif case.setup == "out_fifo":
        os.mkfifo(p)
    elif case.setup == "out_existing_0640":
        p.write_bytes(case.files[BULLETINS_REL])  # plan import merges into what is there
        p.chmod(0o640)


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (RLIMIT_AS, RLIMIT_AS))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _cpu(pid: int) -> float:
    """User + system seconds of a running process and its reaped children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / TICK


def _own_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_loa(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = TIMEOUT) -> Run:
    """`python -m loa argv` with limits; peak RSS of this child alone (wait4), not the pool's."""
    out, err = cwd / ".stdout", cwd / ".stderr"
    with open(out, "wb") as fo, open(err, "wb") as fe:
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "loa", *argv], cwd=cwd, env=env,
                                stdin=subprocess.DEVNULL, stdout=fo, stderr=fe,
                                preexec_fn=_limits, start_new_session=True)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            # CPU time, not wall time, decides a busy hang: the machine may be shared
            if _cpu(proc.pid) > timeout or time.monotonic() - start > timeout * WALL_FACTOR:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        seconds = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)

    def text(p: Path) -> str:  # paths relative to the case: one class whatever the temp dir
        return p.read_bytes().decode("utf-8", "replace").replace(str(cwd) + os.sep, "")

    run = Run(None if timed_out else proc.returncode, text(out), text(err), seconds,
              usage.ru_maxrss / 1024, timed_out, usage.ru_utime + usage.ru_stime)
    out.unlink()
    err.unlink()
    return run


def _detail(line: str, limit: int = 160) -> str:
    """A message with its numbers blanked: one failure class for many cases."""
    line = re.sub(r"\d+", "N", line.strip())
    return line[:limit]


def _exception(stderr: str) -> str:
    lines = [x for x in stderr.strip().splitlines() if x.strip()]
    for line in reversed(lines):
        if re.match(r"^[\w.]+(Error|Exception|Exit|Warning|Interrupt|LimitReached\w*)\b", line) \
                or re.match(r"^[\w.]+: ", line):
            return line[:200]
    return lines[-1][:200] if lines else ""


def _listing(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*") if ".data" not in p.parts}


def check(case: Case, run: Run, workdir: Path, env: dict[str, str], before: set[str],
          original_mode: int) -> dict[str, str]:
    flags: dict[str, str] = {}
    err = run.stderr
    if run.timed_out:
        flags["hangs"] = f"no exit within {TIMEOUT:.0f} s CPU"
        run.stderr += f"\n[fuzz] killed after {run.seconds:.1f} s, {run.cpu:.1f} s CPU\n"
        return flags
    if run.rss_mb > MEMORY_MB or "MemoryError" in err or "Cannot allocate memory" in err \
            or "bad_alloc" in err or run.rc in (-signal.SIGKILL, -signal.SIGSEGV, -signal.SIGABRT):
        flags["over_memory"] = f"peak {run.rss_mb:.0f} MB, exit {run.rc}: {_exception(err)}"
    elif "Traceback (most recent call last)" in err:
        flags["tracebacks"] = _exception(err)
    elif run.rc not in (0, 2):
        flags["wrong_exit"] = f"exit {run.rc}: {_exception(err)}"
    if run.rc != 0 and not flags:
        loi = [x for x in err.splitlines() if x.startswith("Lỗi:")]
        if not loi:
            flags["errors_without_loi"] = _detail(err.strip().splitlines()[0] if err.strip() else "")
        else:
            first = loi[0]
            name = Path(case.target).name
            written = m._lines(case.files.get(case.target, b""))  # a path the operator wrote counts
            # a limit of the schedule (a session too long for its bulletins) names the
            # schedule: naming any input of the command is naming the file
            named = name in first or any(Path(f).name in first for f in case.files) or any(
                tok in first for tok in re.findall(r"[\w./~-]+\.(?:yaml|yml|txt|docx|pdf)|/[\w./-]+",
                                                   "\n".join(written)[:200_000]))
            if not named:
                flags["errors_without_file"] = _detail(first)
            elif (name in first and case.kind not in ("plan_docx", "plan_pdf")
                  and not LINE.search(first) and not WHOLE_FILE.search(first)):
                flags["errors_without_line"] = _detail(first)
            msg = first.split(": ", 2)[-1]
            if ENGLISH.search(first) or not VIETNAMESE.search(msg):
                flags["english_errors"] = _detail(first)
            if max(len(x) for x in err.splitlines()) > 500:
                flags["long_errors"] = f"{max(len(x) for x in err.splitlines())} chars: " \
                                       + _detail(first, 100)
    wrong = _wrong_result(case, run, workdir, env, before, original_mode)
    if wrong:
        flags["wrong_results"] = wrong
    return flags


def _wrong_result(case: Case, run: Run, workdir: Path, env: dict[str, str], before: set[str],
                  original_mode: int) -> str | None:
    """What a run did that a correct loa does not, beyond how it failed."""
    target = workdir / case.target
    after = _listing(workdir)
    if case.setup == "out_fifo" and run.rc == 0 and not target.is_fifo():
        return "-o onto a FIFO replaced it with a regular file"
    if case.setup == "out_new" and run.rc == 0:
        umask = os.umask(0o22)
        os.umask(umask)
        if (target.stat().st_mode & 0o777) != 0o666 & ~umask:
            return f"new output has mode {target.stat().st_mode & 0o777:o}, umask gives " \
                   f"{0o666 & ~umask:o}"
    if case.setup == "out_existing_0640" and run.rc == 0 and (target.stat().st_mode & 0o777) != 0o640:
        return f"rewriting the output changed its mode 640 -> {target.stat().st_mode & 0o777:o}"
    if case.command == "bulletin_approve" and target.is_file():
        if run.rc == 0 and target.exists() and (target.stat().st_mode & 0o777) != original_mode:
            return f"approve changed the file mode {original_mode:o} -> " \
                   f"{target.stat().st_mode & 0o777:o}"
        if run.rc != 0 and target.read_bytes() != case.files[case.target]:
            return "approve failed but changed the file"
    if case.command == "plan_import":
        out = case.argv[case.argv.index("-o") + 1]
        if run.rc != 0 and (workdir / out).is_file() and case.setup != "out_existing_0640":
            return "import failed but wrote its output"
        if run.rc == 0:
            if case.oracle == "no_attr":
                return "template reaching an attribute/index was accepted"
            check_ = run_loa(["bulletin", "list", out], workdir, env)
            if check_.rc != 0:
                return "import output rejected by bulletin list: " + _detail(
                    (check_.stderr.strip().splitlines() or [""])[-1])
            after = _listing(workdir)
    extra = sorted(p for p in after - before if not p.endswith("ban-tin.yaml")
                   and p != "khong-co")
    if extra:
        return "left files behind: " + ", ".join(extra[:3])
    if case.oracle == "reject" and run.rc == 0:
        return f"accepted {case.mutation}"
    if case.oracle and case.oracle.startswith("plays:") and run.rc == 0 and case.command == "validate":
        hhmm = case.oracle.split(":", 1)[1]
        nxt = run_loa(["next", "ba-vi.yaml", "--days", "14"], workdir, env)
        if nxt.rc == 0 and hhmm not in nxt.stdout:
            return f"validate accepts {case.mutation} but nothing plays at {hhmm} in 14 days"
    if case.command in ("next", "render") and run.rc == 2 and case.kind in ("schedule", "bulletins"):
        val = run_loa(["validate", "ba-vi.yaml"], workdir, env)
        if val.rc == 0:
            return f"validate accepts what {case.command} rejects: " + _detail(
                next((x for x in run.stderr.splitlines() if x.startswith("Lỗi:")), ""), 100)
    return None


def run_case(case: Case, seeds: Seeds, base: Path, port: int) -> Result:
    workdir = base / case.id
    shutil.rmtree(workdir, ignore_errors=True)
    for rel, body in case.files.items():
        p = workdir / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body)
        p.chmod(0o644)
    data = workdir / ".data"
    if case.command == "render":
        shutil.copytree(seeds.warm_data, data)
    _apply_setup(case, workdir)
    env = child_env(data, port)
    before = _listing(workdir)
    run = run_loa(case.argv, workdir, env)
    result = Result(case, run, check(case, run, workdir, env, before, 0o644))
    if not result.flags:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def signature(flag: str, r: Result) -> tuple[str, str, str, str]:
    family = ":".join(r.case.mutation.split(":")[:2])
    return flag, r.case.command, family, r.flags[flag]


def save(r: Result, base: Path, findings: Path) -> Path:
    """Inputs, command line and output of a failing case, runnable as repro.sh."""
    src = base / r.case.id
    dst = findings / r.case.id
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    for rel in r.case.files:
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        if (src / rel).is_file():
            shutil.copy2(src / rel, dst / rel)
    if r.case.setup:
        (dst / "setup.txt").write_text(f"before running, make {r.case.target} into: {r.case.setup}\n")
    cmd = "python -m loa " + shlex.join(r.case.argv)
    (dst / "repro.sh").write_text(
        "#!/bin/sh\n# run from a loa checkout's venv; LOA_DATA_DIR keeps the real one clean\n"
        f'cd "$(dirname "$0")" && LOA_DATA_DIR="$PWD/.data" LOA_GTTS_ENDPOINT=http://127.0.0.1:9/ '
        f"LOA_GTTS_TIMEOUT=1 {cmd}\n")
    (dst / "repro.sh").chmod(0o755)
    (dst / "stderr.txt").write_text(r.run.stderr[:200_000])
    (dst / "result.json").write_text(json.dumps({
        "mutation": r.case.mutation, "command": r.case.command, "argv": r.case.argv,
        "exit": r.run.rc, "seconds": round(r.run.seconds, 2), "cpu": round(r.run.cpu, 2),
        "peak_rss_mb": round(r.run.rss_mb), "flags": r.flags}, ensure_ascii=False, indent=1))
    return dst


def campaign(count: int, seed: int, base: Path, seeds: Seeds, findings: Path | None = None,
             workers: int = 2, keep_per_class: int = 2, progress=None, start: int = 0) -> dict:
    """Run `count` cases; return the counts (one JSON object) with the failure classes."""
    base.mkdir(parents=True, exist_ok=True)
    port = closed_port()
    began = time.monotonic()

    def one(i: int) -> Result:
        r = run_case(make_case(seeds, seed, i), seeds, base, port)
        if progress:
            progress(r)
        return r

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(one, range(start, start + count)))
    summary: dict = {"seed": seed, "first_case": start, "files": count,
                     "seconds": round(time.monotonic() - began, 1)}
    for f in FLAGS:
        summary[f] = sum(1 for r in results if f in r.flags)
    summary["ok"] = sum(1 for r in results if r.status == "ok")
    summary["clean_errors"] = sum(1 for r in results if r.status == "clean_error")
    summary["peak_rss_mb"] = round(max(r.run.rss_mb for r in results))
    summary["slowest_seconds"] = round(max(r.run.seconds for r in results), 1)
    # a child's ru_maxrss includes this process's RSS at fork: only a small harness makes
    # peak_rss_mb (and over_memory) the children's own
    summary["harness_rss_mb"] = round(_own_hwm_mb())
    by: dict[str, Counter] = defaultdict(Counter)
    for r in results:
        by[r.case.command]["cases"] += 1
        by[r.case.command][r.status] += 1
        for f in r.flags:
            by[r.case.command][f] += 1
    summary["by_command"] = {k: dict(v) for k, v in sorted(by.items())}
    classes: dict[tuple, list[Result]] = defaultdict(list)
    for r in results:
        for f in r.flags:
            classes[signature(f, r)].append(r)
    out = []
    for (flag, command, family, detail), rs in sorted(classes.items(), key=lambda kv: -len(kv[1])):
        entry = {"flag": flag, "command": command, "mutation": family, "detail": detail,
                 "count": len(rs), "cases": [r.case.id for r in rs[:5]]}
        if findings is not None:
            entry["reproducer"] = str(save(rs[0], base, findings))
            for r in rs[1:keep_per_class]:
                save(r, base, findings)
        out.append(entry)
    summary["classes"] = out
    return summary
