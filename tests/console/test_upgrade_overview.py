"""Tổng quan lists, by title, the approved bulletins still in the backup voice."""

from __future__ import annotations

import pytest
from helpers import free_port

from console.test_overview import clock, section  # noqa: F401 - the page's fake clock
from loa.cli import main


@pytest.mark.django_db
def test_backup_voiced_bulletins_are_listed_by_title(client_as, station, clock,  # noqa: F811
                                                     monkeypatch):
    from loa.station import load_station

    monkeypatch.setenv("LOA_GTTS_ENDPOINT", f"http://127.0.0.1:{free_port()}/x")  # no Google
    monkeypatch.setenv("LOA_GTTS_TIMEOUT", "2")
    assert main(["render", str(station)]) == 0
    box = section(client_as("editor").get("/"), "giong-du-phong")
    titles = [b.title for pool in load_station(station).bulletins.values() for b in pool]
    assert titles
    assert "Bản tin đã duyệt còn đọc bằng giọng dự phòng" in box
    for title in titles:
        assert f"«{title}» — espeak-ng (ngoại tuyến)" in box
