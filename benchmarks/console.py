"""The station console under a year of log: page times, memory, and the whole-job walk.

Builds a station of 10 villages (two sessions a day, the Ba Vì plan's bulletins) with a year
of log (default 36,500 plays, written into a real log database through LogStore's schema
and triggers, as benchmarks/export.py does), starts a real `loa serve` (waitress) on a
loopback port, logs in over HTTP with an account holding every role, and requests each page
N times (after one warm-up request) over one keep-alive connection:
  Tổng quan, Kế hoạch, Bản tin, Duyệt, Lịch phát (+ week, month), Khẩn cấp, Nhật ký (with
  and without filters), Người dùng, Nhật ký thao tác.
Times are time to the full response on loopback (request sent -> last byte read): the
server's time plus a loopback round trip, measured by the client.
Then, unless --no-walk, the scripted browser walk of tests/console/walk.py (Debian's
Chromium, a private PulseAudio null sink, a real `loa run`) on its own station, timed.

Prints one JSON object:
  pages     {page: {"p50_ms", "p95_ms", "max_ms", "status", "bytes"} or {"missing": why}}
  p95_ms    the worst page's p95 (downloads are not among the pages); goal <= 150
  rss_mb    the serve process's peak resident memory (VmHWM) at the end; goal <= 150.
            The peak is a login: loa's Argon2 hasher takes 19 MiB per password check
            (Django's default took 100 MiB); rss_now_mb (VmRSS at the end) is the steady state
  walk_s    seconds of the walk (null if it could not run: see walk_error)
  missing   pages the console does not have yet (404), not counted in p95_ms
  placeholders  pages that are still the skeleton's placeholder (timed, but say nothing)

    python benchmarks/console.py [--rows 36500] [--n 30] [--no-walk]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# this file is named like the tests' `console` package: keep its folder off the path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from console.conftest import PASSWORD, LiveConsole  # noqa: E402

from loa.yamlio import write_yaml  # noqa: E402


def _export_benchmark():
    """benchmarks/export.py as a module (its log generator is reused)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("loa_bench_export", ROOT / "benchmarks/export.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

VILLAGES = ["Thôn Văn Hòa", "Thôn Đông", "Thôn Tây", "Thôn Nam", "Thôn Bắc", "Thôn Thượng",
            "Thôn Hạ", "Thôn Trung", "Thôn Cầu", "Thôn Chợ"]
ZONE_IDS = [f"cum-loa-{i:03d}" for i in range(1, 11)]  # export.generate's ids for 10 zones
USER = "canbo"
# the pages, by the officers' names; a callable finds a URL on a page already fetched
PAGES = [
    ("Tổng quan", "/"),
    ("Kế hoạch", "/ke-hoach/"),
    ("Bản tin", "/ban-tin/"),
    ("Duyệt", "/duyet/"),
    ("Lịch phát", "/lich-phat/"),
    ("Lịch phát: tuần", ("/lich-phat/", r"(?i)tu[aầ]n")),
    ("Lịch phát: tháng", ("/lich-phat/", r"(?i)th[aá]ng")),
    ("Khẩn cấp", "/khan-cap/"),
    ("Nhật ký", "/nhat-ky/"),
    ("Nhật ký: lọc", ("/nhat-ky/", "filter")),
    ("Người dùng", "/nguoi-dung/"),
    ("Nhật ký thao tác", "/thao-tac/"),
]
PLACEHOLDER = re.compile(r"<main>\s*<h1>[^<]*</h1>\s*</main>")


def build_station(folder: Path, rows: int) -> tuple[Path, Path]:
    """(schedule, data folder): 10 villages and `rows` plays over 2026."""
    folder.mkdir(parents=True)
    bulletins = folder / "bulletins"
    bulletins.mkdir()
    src = ROOT / "schedules/bulletins/ba-vi-2026.yaml"
    (bulletins / src.name).write_bytes(src.read_bytes())
    schedule = folder / "ba-vi.yaml"
    write_yaml(schedule, {
        "station": {"id": "ba-vi", "name": "Đài truyền thanh xã Ba Vì",
                    "timezone": "Asia/Ho_Chi_Minh", "quiet_hours": "21:00-05:30",
                    "engines": ["espeak"], "owner": "UBND xã Ba Vì"},
        "zones": [{"id": z, "name": n, "device": "default", "volume": 80}
                  for z, n in zip(ZONE_IDS, VILLAGES, strict=True)],
        "sessions": [{"id": "sang", "name": "Buổi sáng", "time": "06:30", "zones": ZONE_IDS},
                     {"id": "chieu", "name": "Buổi chiều", "time": "17:00", "days": "T2-T6",
                      "zones": ZONE_IDS}],
        "programs": [{"id": "kstthc", "name": "Tuyên truyền KSTTHC năm 2026",
                      "bulletins": "bulletins/ba-vi-2026.yaml", "sessions": ["sang", "chieu"],
                      "from": "2026-01-01", "until": "2026-12-31", "per_session": 5}],
    })
    data = folder.parent / "data"
    data.mkdir()
    _export_benchmark().generate(data / "loa.sqlite3", rows, zones=len(ZONE_IDS))
    return schedule, data


class Browser:
    """A logged-in HTTP client on one keep-alive connection (cookies by hand: one host)."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
                   "Host": f"127.0.0.1:{self.port}"}
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body).encode()
            headers.update({"Content-Type": "application/x-www-form-urlencoded",
                            "Origin": f"http://127.0.0.1:{self.port}",
                            "Referer": f"http://127.0.0.1:{self.port}{path}"})
        self.conn.request(method, path, data, headers)
        resp = self.conn.getresponse()
        content = resp.read()
        for value in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return resp.status, content

    def login(self, username: str, password: str) -> None:
        status, page = self.request("GET", "/dang-nhap/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
        status, page = self.request("POST", "/dang-nhap/", {
            "csrfmiddlewaretoken": token, "username": username, "password": password,
            "next": "/"})
        assert status == 302, f"login failed: HTTP {status}"


def find_link(html: bytes, pattern: str) -> str | None:
    """The href of the first link whose text matches `pattern`, or None."""
    for href, text in re.findall(rb'<a [^>]*href="([^"#]+)"[^>]*>(.*?)</a>', html, re.S):
        label = re.sub(r"<[^>]+>", "", text.decode())
        if re.search(pattern, label) and not href.startswith(b"http"):
            return href.decode().replace("&amp;", "&")
    return None


def filter_query(html: bytes) -> str | None:
    """A filtered Nhật ký URL built from the page's own GET form: the second option of each
    select (a village, a status, a bulletin...) and June 2026 for the period."""
    form = re.search(rb'<form[^>]*method="get"[^>]*>(.*?)</form>', html, re.S | re.I)
    if not form:
        return None
    params = {}
    for name, options in re.findall(rb'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>',
                                    form.group(1), re.S):
        values = [v for v in re.findall(rb'<option[^>]*value="([^"]*)"', options) if v]
        if values:
            params[name.decode()] = values[min(1, len(values) - 1)].decode()
    for tag in re.findall(rb"<input[^>]*>", form.group(1)):
        name = re.search(rb'name="([^"]+)"', tag)
        # a period field: type=month, or text whose example is a month such as 2026-03
        if name and re.search(rb'type="month"|placeholder="[^"]*\d{4}-\d{2}', tag):
            params[name.group(1).decode()] = "2026-06"
    return "/nhat-ky/?" + urllib.parse.urlencode(params) if params else None


def measure(client: Browser, n: int) -> dict:
    pages: dict[str, dict] = {}
    fetched: dict[str, bytes] = {}
    for name, where in PAGES:
        if isinstance(where, tuple):
            base, pattern = where
            html = fetched.get(base)
            url = None
            if html is not None:
                url = filter_query(html) if pattern == "filter" else find_link(html, pattern)
            if url is None:
                pages[name] = {"missing": f"no link or form for it on {base}"}
                continue
        else:
            url = where
        status, body = client.request("GET", url)  # warm-up
        if status == 404:
            pages[name] = {"missing": f"{url}: 404"}
            continue
        fetched[url] = body
        times = []
        for _ in range(n):
            t = time.perf_counter()
            status, body = client.request("GET", url)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        pages[name] = {"url": url, "status": status, "bytes": len(body),
                       "p50_ms": round(statistics.median(times), 1),
                       "p95_ms": round(times[max(0, round(0.95 * n) - 1)], 1),
                       "max_ms": round(times[-1], 1)}
        if PLACEHOLDER.search(body.decode("utf-8", "replace")):
            pages[name]["placeholder"] = True
    return pages


def rss_mb(pid: int, key: str = "VmHWM") -> float:
    """VmHWM: the peak resident memory so far; VmRSS: now."""
    text = Path(f"/proc/{pid}/status").read_text()
    return round(int(re.search(key + r":\s+(\d+) kB", text).group(1)) / 1024, 1)


def run_walk(tmp: Path) -> tuple[float | None, str | None]:
    """The scripted browser walk's seconds, or (None, why not)."""
    from console.walk import PageMissing, WalkStation, walk
    from helpers import start_pulse, stop_pulse
    from playwright.sync_api import sync_playwright

    sink = start_pulse(tmp / "pulse")
    try:
        with WalkStation(tmp / "walk", sink) as ws, sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            try:
                res = walk(browser, ws.live, shots=False)
            finally:
                browser.close()
        if len(res.played) < 2 or any(r.status != "played" for r in res.played):
            return None, f"not aired as expected: {[(r.zone, r.status) for r in res.played]}"
        return res.seconds, None
    except PageMissing as exc:
        return None, f"console page missing: {exc}"
    finally:
        stop_pulse(sink)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=36_500)
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--no-walk", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t = time.perf_counter()
        schedule, data = build_station(tmp / "schedules", args.rows)
        generate_s = time.perf_counter() - t
        live = LiveConsole(schedule, data)
        live.add_user(USER, "editor", "leader", "technician", "admin", full_name="Trần Thị Bình")
        live.start()
        try:
            client = Browser(live.port)
            client.login(USER, PASSWORD)
            pages = measure(client, args.n)
            load = os.getloadavg()[0]  # while the pages were timed
            rss, rss_now = rss_mb(live.proc.pid), rss_mb(live.proc.pid, "VmRSS")
        finally:
            live.stop()
        walk_s, walk_error = (None, "not asked (--no-walk)") if args.no_walk else run_walk(tmp)
    timed = {k: v for k, v in pages.items() if "p95_ms" in v}
    out = {
        "timing": "time to full response over loopback, keep-alive, after one warm-up request",
        "rows": args.rows, "villages": len(VILLAGES), "n": args.n,
        "p95_ms": max((v["p95_ms"] for v in timed.values()), default=None),
        "worst_page": max(timed, key=lambda k: timed[k]["p95_ms"]) if timed else None,
        "rss_mb": rss, "rss_now_mb": rss_now, "walk_s": walk_s,
        "missing": [k for k, v in pages.items() if "missing" in v],
        "placeholders": [k for k, v in timed.items() if v.get("placeholder")],
        "generate_s": round(generate_s, 1),
        # the machine's load when measured: other work on it inflates every time above
        "loadavg_1m": round(load, 2), "cpus": os.cpu_count(),
        "pages": pages,
    }
    if walk_error:
        out["walk_error"] = walk_error
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
