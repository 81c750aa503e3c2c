"""LOA_DATABASE_URL / --database: URL forms an operator writes, down to a real connection."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fleet.server_rig import REPO
from loa.console.dburl import database_from_url


def test_url_forms():
    db = database_from_url("postgresql://loa:m%E1%BA%ADt%40kh%E1%BA%A9u@db.tinh.vn:6543/loa_tinh"
                           "?sslmode=require")
    assert (db["ENGINE"], db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "django.db.backends.postgresql", "loa_tinh", "loa", "mật@khẩu", "db.tinh.vn", "6543")
    assert db["OPTIONS"] == {"sslmode": "require"} and db["CONN_MAX_AGE"] > 0
    sock = database_from_url("postgres://loa@/loa?host=/var/run/postgresql")
    assert (sock["HOST"], sock["PORT"], sock["OPTIONS"]) == ("/var/run/postgresql", "", {})
    for bad in ("mysql://a@b/c", "postgresql://a@b", "sqlite:///x.db"):
        with pytest.raises(ValueError):
            database_from_url(bad)


def test_a_unix_socket_url_reaches_the_real_database(pg_db, tmp_path):
    server, name = pg_db
    url = f"postgresql://loa@:{server.port}/{name}?host={server.socket_dir}"
    env = {"LOA_DATA_DIR": str(tmp_path), "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "loa", "fleet", "--database", url, "station",
                           "add", "xa-ba-vi", "--name", "Đài xã Ba Vì"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with server.connect(name) as conn:
        assert conn.execute("SELECT name FROM fleet_station").fetchall() == [("Đài xã Ba Vì",)]
