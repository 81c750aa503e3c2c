"""The systemd services a commune technician installs: loa (the player) and loa-web (the
console)."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "scripts/install-service.sh"
HEADER = "# ==> /etc/systemd/system/"


def units(*flags: str) -> dict[str, str]:
    """{unit name: text} that `install-service.sh --dry-run FLAGS` would install."""
    out = subprocess.run([str(INSTALL), "--dry-run", *flags, str(REPO / "schedules/ba-vi.yaml")],
                         capture_output=True, text=True, check=True)
    found: dict[str, list[str]] = {}
    name = None
    for line in out.stdout.splitlines():
        if line.startswith(HEADER):
            name = line[len(HEADER):].removesuffix(" <==")
            found[name] = []
        else:
            assert name, f"text before the first unit: {line!r}"
            found[name].append(line)
    return {k: "\n".join(v) + "\n" for k, v in found.items()}


def unit_text(tmp_path, name: str = "loa.service", *flags: str) -> tuple[str, Path]:
    text = units(*flags)[name]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return text, path


def settings(text: str) -> dict[str, list[str]]:
    """key -> every value it is given in the unit."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def test_service_unit_is_what_the_pi_needs(tmp_path):
    text, _ = unit_text(tmp_path)
    lines = set(text.splitlines())
    assert "User=loa" in lines and "Environment=LOA_DATA_DIR=/var/lib/loa" in lines
    assert f"ExecStart={REPO}/.venv/bin/loa run /etc/loa/ba-vi.yaml" in lines
    assert "After=network-online.target time-sync.target sound.target" in lines
    assert "Restart=always" in lines and "ExecReload=/bin/kill -HUP $MAINPID" in lines
    assert "WantedBy=multi-user.target" in lines


def verify(path: Path) -> None:
    exe = shutil.which("systemd-analyze")
    assert exe, "systemd-analyze missing"
    done = subprocess.run([exe, "verify", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_systemd_accepts_the_unit(tmp_path):
    verify(unit_text(tmp_path)[1])


def test_web_unit_serves_the_console_on_the_lan_by_default_hardened(tmp_path):
    text, path = unit_text(tmp_path, "loa-web.service")
    verify(path)
    s = settings(text)
    # the same account and data as the player: both work on the same files
    assert s["User"] == ["loa"] and s["Group"] == ["loa"]
    assert "LOA_DATA_DIR=/var/lib/loa" in s["Environment"]
    assert s["ExecStart"] == [f"{REPO}/.venv/bin/loa serve /etc/loa/ba-vi.yaml "
                              "--host 0.0.0.0 --port 8080"]
    assert s["Restart"] == ["on-failure"]
    assert s["NoNewPrivileges"] == ["yes"] and s["PrivateTmp"] == ["yes"]
    assert s["ProtectSystem"] == ["strict"]
    # strict makes everything read-only but what the console must write
    assert s["ReadWritePaths"] == ["/var/lib/loa /etc/loa"]
    assert s["EnvironmentFile"] == ["-/etc/default/loa-web"]  # LOA_HTTPS... for a proxy
    assert s["WantedBy"] == ["multi-user.target"]


def test_web_unit_local_only_behind_a_proxy_on_another_port(tmp_path):
    found = units("--web", "local", "--port", "8181")
    assert set(found) == {"loa.service", "loa-web.service"}
    assert settings(found["loa-web.service"])["ExecStart"] == [
        f"{REPO}/.venv/bin/loa serve /etc/loa/ba-vi.yaml --host 127.0.0.1 --port 8181"]
    # the player's unit does not change with the console's choices
    assert found["loa.service"] == units()["loa.service"]


def test_web_off_installs_only_the_player():
    assert set(units("--web", "off")) == {"loa.service"}


@pytest.mark.parametrize("flags, message", [
    (["--web", "internet"], "--web phải là lan, local hoặc off"),
    (["--port", "99999"], "--port phải là số cổng"),
    (["--port"], "--port phải là số cổng"),  # the schedule taken for the port: refused
])
def test_installer_refuses_bad_flags_in_vietnamese(flags, message):
    done = subprocess.run([str(INSTALL), "--dry-run", *flags, str(REPO / "schedules/ba-vi.yaml")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert done.stdout == ""  # nothing printed as if it were a unit


def test_web_unit_command_line_really_serves(tmp_path):
    """The unit's ExecStart and Environment, run as written (paths moved into tmp): the
    console answers on the port the unit names."""
    from helpers import free_port

    port = free_port()
    text = units("--web", "local", "--port", str(port))["loa-web.service"]
    s = settings(text)
    shutil.copytree(REPO / "schedules", tmp_path / "etc-loa")
    data = tmp_path / "var-lib-loa"
    data.mkdir()
    argv = shlex.split(s["ExecStart"][0].replace("/etc/loa", str(tmp_path / "etc-loa")))
    assert argv[0] == f"{REPO}/.venv/bin/loa"
    argv[:1] = [sys.executable, "-m", "loa"]  # the venv's entry point, from this checkout
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "PYTHONPATH", "LANG")}
    env.update(e.split("=", 1) for e in s["Environment"])
    env["LOA_DATA_DIR"] = str(data)
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/dang-nhap/", timeout=10) as r:
            assert r.status == 200 and "Đăng nhập" in r.read().decode()
        assert (data / "console.sqlite3").exists()  # its accounts live in the data folder
    finally:
        proc.terminate()
        proc.wait(10)


def test_installer_refuses_without_a_schedule():
    done = subprocess.run([str(INSTALL)], capture_output=True, text=True)
    assert done.returncode == 2 and "Cách dùng" in done.stderr


def _behind_proxy(request, tmp_path, env: dict[str, str]):
    """A real `loa serve` as the README's loa-web runs it behind Caddy/nginx: 127.0.0.1, with
    the environment of /etc/default/loa-web; stopped when the test ends, however it ends."""
    from console.conftest import LiveConsole, copy_station

    data = tmp_path / "data"
    data.mkdir()
    live = LiveConsole(copy_station(tmp_path / "schedules"), data,
                       {**os.environ, **env})
    live.add_user("quantri", "admin", full_name="Phạm Thị Dung")
    request.addfinalizer(live.stop)
    return live.start()


def _as_proxied(live, method: str, path: str, host: str, body: str = "",
                cookies: str = "", origin: str = ""):
    """A request as the README's nginx/Caddy forwards it: the browser's Host and
    X-Forwarded-Proto: https."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
    headers = {"Host": host, "X-Forwarded-Proto": "https", "X-Forwarded-For": "192.168.1.20"}
    if cookies:
        headers["Cookie"] = cookies
    if body:
        headers.update({"Content-Type": "application/x-www-form-urlencoded",
                        "Origin": origin or f"https://{host}",
                        "Referer": f"https://{host}{path}"})
    conn.request(method, path, body.encode() or None, headers)
    resp = conn.getresponse()
    out = resp.status, resp.headers.get_all("Set-Cookie") or [], resp.read().decode()
    conn.close()
    return out


def _login_behind_proxy(live, host: str) -> tuple[int, list[str], str]:
    import re
    import urllib.parse

    from console.conftest import PASSWORD

    status, cookies, page = _as_proxied(live, "GET", "/dang-nhap/", host)
    assert status == 200, status
    assert all("Secure" in c for c in cookies), cookies  # LOA_HTTPS=1: cookies only over TLS
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    jar = "; ".join(c.split(";", 1)[0] for c in cookies)
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": "quantri",
                                   "password": PASSWORD, "next": "/"})
    return _as_proxied(live, "POST", "/dang-nhap/", host, form, jar)


def test_console_behind_an_https_proxy_with_the_readme_settings(request, tmp_path):
    host = "loa.xa-ba-vi.vn"
    live = _behind_proxy(request, tmp_path, {"LOA_HTTPS": "1", "LOA_CSRF_ORIGINS": f"https://{host}",
                                    "LOA_ALLOWED_HOSTS": host})
    try:
        status, cookies, _ = _login_behind_proxy(live, host)
        assert status == 302, status  # logged in through the proxy
        session = next(c for c in cookies if c.startswith("loa_phien="))
        for flag in ("Secure", "HttpOnly", "SameSite=Lax"):
            assert flag in session, session
        # a name the station did not list is refused (DNS rebinding, a stray vhost)
        assert _as_proxied(live, "GET", "/dang-nhap/", "ke-la.example")[0] == 400
    finally:
        live.stop()


def test_a_proxy_on_this_machine_needs_no_csrf_origins(request, tmp_path):
    """With LOA_HTTPS=1 `loa serve` trusts the proxy on 127.0.0.1 for X-Forwarded-Proto, so
    Django sees https, as the browser's Origin says, and the officer's own address."""
    host = "loa.xa-ba-vi.vn"
    live = _behind_proxy(request, tmp_path, {"LOA_HTTPS": "1", "LOA_ALLOWED_HOSTS": host})
    try:
        status, _, page = _login_behind_proxy(live, host)
        assert status == 302, (status, page[:500])
    finally:
        live.stop()
    import sqlite3

    db = sqlite3.connect(live.data / "console.sqlite3")
    (address,) = db.execute("select address from accounts_auditentry "
                            "where action = 'account.login'").fetchone()
    db.close()
    assert address == "192.168.1.20"  # from X-Forwarded-For, not the proxy's 127.0.0.1


# --- the README's HTTPS set-up, run for real ---------------------------------------------------

README = REPO / "README.md"
SITE = "loa.xa-ba-vi.vn"  # the name the README's snippets use


def readme_block(opening: str) -> str:
    """The README's fenced block whose first line is `opening` (without the fence)."""
    import re

    for block in re.findall(r"```[a-z]*\n(.*?)```", README.read_text(encoding="utf-8"), re.S):
        lines = [ln.strip() for ln in block.splitlines()]
        if lines and lines[0] == opening:
            return "\n".join(lines)
    raise AssertionError(f"README has no block opening with {opening!r}")


def readme_env() -> dict[str, str]:
    """/etc/default/loa-web as the README writes it."""
    env = {}
    for line in readme_block("# /etc/default/loa-web").splitlines()[1:]:
        line = line.split("#", 1)[0].strip()
        if line:
            key, value = line.split("=", 1)
            env[key] = value
    return env


def test_readme_tells_the_proxy_settings_the_console_reads():
    env = readme_env()
    assert env == {"LOA_HTTPS": "1", "LOA_CSRF_ORIGINS": f"https://{SITE}",
                   "LOA_ALLOWED_HOSTS": SITE}
    settings_doc = (REPO / "loa/console/settings.py").read_text(encoding="utf-8")
    assert all(k in settings_doc for k in env)  # names the console really reads


def _proxy_binary(name: str) -> str:
    exe = os.environ.get(f"LOA_{name.upper()}") or shutil.which(name)
    if not exe:
        pytest.skip(f"{name} is not installed (apt-get install {name}, or "
                    f"LOA_{name.upper()}=path)")
    return exe


def _wait_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def _chromium_logs_in(p, url: str) -> None:
    """Chromium (the site's name mapped to loopback, its certificate not trusted: a LAN's
    self-signed or Caddy-internal one) logs in at `url` and gets secure session cookies."""
    from console.conftest import PASSWORD

    browser = p.chromium.launch(
        executable_path=os.environ.get("LOA_CHROMIUM", "/usr/bin/chromium"),
        args=["--no-sandbox", f"--host-resolver-rules=MAP {SITE} 127.0.0.1"])
    try:
        ctx = browser.new_context(ignore_https_errors=True)
        page = ctx.new_page()
        page.goto(url + "/")
        assert page.url.startswith(url + "/dang-nhap/"), page.url
        page.fill("#id_username", "quantri")
        page.fill("#id_password", PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(lambda u: "/dang-nhap/" not in u)
        assert page.inner_text("header.top .station") == "Đài truyền thanh xã Ba Vì"
        cookies = {c["name"]: c for c in ctx.cookies()}
        assert cookies["loa_phien"]["secure"] and cookies["loa_phien"]["httpOnly"]
    finally:
        browser.close()


def _big_post_reaches_the_console(port: int) -> None:
    """30 MB (over the 20 MB a plan may be, under loa serve's 64 MB) posted through the
    proxy is answered by the console in Vietnamese, not refused by the proxy in English."""
    import http.client
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    conn = http.client.HTTPSConnection(SITE, port, context=ctx, timeout=60)
    conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=60),
                                server_hostname=SITE)
    try:
        conn.request("POST", "/dang-nhap/", body=bytes(30 * 1024 * 1024),
                     headers={"Content-Type": "application/octet-stream"})
        resp = conn.getresponse()
        page = resp.read().decode("utf-8", "replace")
    finally:
        conn.close()
    assert resp.status == 403 and "Phiên làm việc đã hết hạn" in page, (resp.status, page[:300])


def _redirect_of(port: int, path: str) -> tuple[int, str | None]:
    import http.client

    plain = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        plain.request("GET", path, headers={"Host": SITE})
        moved = plain.getresponse()
        return moved.status, moved.getheader("Location")
    finally:
        plain.close()


@pytest.mark.browser
def test_readme_nginx_site_serves_the_console_over_https_to_chromium(request, tmp_path):
    """The README's nginx server blocks and /etc/default/loa-web, on loopback ports and a
    certificate made by the README's openssl line: Chromium logs in over HTTPS through a
    real nginx to a real `loa serve`, with secure cookies."""
    import re

    from helpers import free_port

    nginx = _proxy_binary("nginx")
    https_port, http_port = free_port(), free_port()
    cert, key = tmp_path / "loa.pem", tmp_path / "loa.key"
    openssl = re.search(r"`sudo (openssl req [^`]+)`", README.read_text(encoding="utf-8"))
    assert openssl, "README lost its openssl line"
    args = shlex.split(openssl.group(1).replace("/etc/ssl/private/loa.key", str(key))
                       .replace("/etc/ssl/certs/loa.pem", str(cert)))
    subprocess.run(args, check=True, capture_output=True, timeout=60)

    env = readme_env()
    env["LOA_CSRF_ORIGINS"] = f"https://{SITE}:{https_port}"  # the test's port, not 443
    live = _behind_proxy(request, tmp_path, env)
    server = "\n".join(re.findall(r"```nginx\n(.*?)```", README.read_text(encoding="utf-8"),
                                  re.S))
    server = (server.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
              .replace("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
              .replace("/etc/ssl/certs/loa.pem", str(cert))
              .replace("/etc/ssl/private/loa.key", str(key))
              .replace("http://127.0.0.1:8080", f"http://127.0.0.1:{live.port}"))
    temp = tmp_path / "nginx"
    temp.mkdir()
    conf = tmp_path / "nginx.conf"
    # test-only: workers as the test's user (as root they would be nobody, who cannot
    # enter pytest's 0700 tmp folders); nginx ignores `user` when not started as root
    user = "user root root;\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"{user}daemon off;\npid {temp}/nginx.pid;\nerror_log {temp}/error.log;\nevents {{}}\n"
        f"http {{\naccess_log off;\nclient_body_temp_path {temp}/body;\n"
        f"proxy_temp_path {temp}/proxy;\nfastcgi_temp_path {temp}/fcgi;\n"
        f"uwsgi_temp_path {temp}/uwsgi;\nscgi_temp_path {temp}/scgi;\n{server}\n}}\n",
        encoding="utf-8")
    log = tmp_path / "nginx.log"
    with log.open("w") as out:
        proxy = subprocess.Popen([nginx, "-p", str(temp), "-c", str(conf)], stderr=out)
    try:
        _wait_port(https_port, proxy, log)
        _chromium_logs_in(request.getfixturevalue("playwright"), f"https://{SITE}:{https_port}")
        _big_post_reaches_the_console(https_port)
        # the plain-HTTP site sends the browser to HTTPS
        assert _redirect_of(http_port, "/nhat-ky/") == (301, f"https://{SITE}/nhat-ky/")
    finally:
        proxy.terminate()
        proxy.wait(10)
        live.stop()


@pytest.mark.browser
def test_readme_caddyfile_serves_the_console_over_https_to_chromium(request, tmp_path):
    """The README's Caddyfile with `tls internal` (a LAN-only name), its body limit and
    /etc/default/loa-web: Chromium logs in over HTTPS through a real Caddy."""
    import re

    from helpers import free_port

    caddy = _proxy_binary("caddy")
    https_port, http_port = free_port(), free_port()
    env = readme_env()
    env["LOA_CSRF_ORIGINS"] = f"https://{SITE}:{https_port}"
    (site,) = re.findall(r"```\n\s*(" + re.escape(SITE) + r" \{.*?)```",
                         README.read_text(encoding="utf-8"), re.S)
    assert "# tls internal" in site
    live = _behind_proxy(request, tmp_path, env)
    site = (site.replace("# tls internal", "tls internal")
            .replace("127.0.0.1:8080", f"127.0.0.1:{live.port}"))
    home = tmp_path / "caddy"
    home.mkdir()
    caddyfile = tmp_path / "Caddyfile"
    # test-only globals: loopback ports, no admin API, never touch the system's trust store
    caddyfile.write_text(
        f"{{\n\tadmin off\n\thttp_port {http_port}\n\thttps_port {https_port}\n"
        f"\tdefault_bind 127.0.0.1\n\tskip_install_trust\n"
        f"\tstorage file_system {home}/data\n}}\n\n{site}", encoding="utf-8")
    log = tmp_path / "caddy.log"
    with log.open("w") as out:
        proxy = subprocess.Popen(
            [caddy, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
            env={"PATH": os.environ["PATH"], "HOME": str(home), "XDG_DATA_HOME": str(home),
                 "XDG_CONFIG_HOME": str(home)}, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_port(https_port, proxy, log)
        _chromium_logs_in(request.getfixturevalue("playwright"), f"https://{SITE}:{https_port}")
        _big_post_reaches_the_console(https_port)
        # Caddy sends plain HTTP to HTTPS by itself
        assert _redirect_of(http_port, "/nhat-ky/") == (308, f"https://{SITE}/nhat-ky/")
    finally:
        proxy.terminate()
        proxy.wait(10)
        live.stop()
