"""Figures for exports and reports, from one grouped scan of the log.

Definitions (the report states them too):
- scheduled (theo lịch): every row of the period, whatever its status;
- aired (phát trọn): status played or late;
- airtime (thời lượng phát): seconds actually on air: played, late and interrupted rows;
- asked (thời lượng yêu cầu): clip lengths of the rows that had a clip."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from loa.log.store import LogFilter, LogStore, topic_of

AIRED = ("played", "late")
ON_AIR = ("played", "late", "interrupted")


@dataclass
class Tally:
    scheduled: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    airtime_s: float = 0.0
    asked_s: float = 0.0
    emergency: int = 0

    @property
    def aired(self) -> int:
        return sum(self.by_status.get(s, 0) for s in AIRED)

    @property
    def ratio(self) -> float:
        """Aired / scheduled, in percent."""
        return 100.0 * self.aired / self.scheduled if self.scheduled else 0.0

    def add(self, status: str, n: int, airtime: float, asked: float, kind: str) -> None:
        self.scheduled += n
        self.by_status[status] += n
        if status in ON_AIR:
            self.airtime_s += airtime
        self.asked_s += asked
        if kind == "khan-cap":
            self.emergency += n


@dataclass
class Summary:
    total: Tally
    bulletins: dict[str, Tally]  # bulletin key -> tally
    titles: dict[str, str]
    topics: dict[str, Tally]  # topic (parts merged) -> tally
    topic_zones: dict[str, dict[str, int]]  # topic -> zone -> aired count
    zones: dict[str, Tally]
    months: dict[str, Tally]  # YYYY-MM (station time)
    reasons: dict[tuple[str, str], int]  # (status, reason) -> count, all but 'played'
    # ISO 639 code -> tally (loa.languages names them); Vietnamese first, then by code
    languages: dict[str, Tally] = field(default_factory=dict)
    voices: dict[str, int] = field(default_factory=dict)  # engine code -> aired plays


def summarize(store: LogStore, where: LogFilter) -> Summary:
    rows = store.tallies(where)
    total = Tally()
    bulletins: dict[str, Tally] = defaultdict(Tally)
    topics: dict[str, Tally] = defaultdict(Tally)
    zones: dict[str, Tally] = defaultdict(Tally)
    months: dict[str, Tally] = defaultdict(Tally)
    topic_zones: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    reasons: dict[tuple[str, str], int] = defaultdict(int)
    titles = {}
    for bulletin, zone, month, status, reason, kind, n, airtime, asked, title in rows:
        for tally in (total, bulletins[bulletin], topics[topic_of(bulletin)], zones[zone],
                      months[month]):
            tally.add(status, n, airtime, asked, kind)
        if status in AIRED:
            topic_zones[topic_of(bulletin)][zone] += n
        if status != "played":
            reasons[(status, reason)] += n
        titles.setdefault(bulletin, title)
    languages: dict[str, Tally] = defaultdict(Tally)
    for language, status, kind, n, airtime, asked in store.languages(where):
        languages[language].add(status, n, airtime, asked, kind)
    return Summary(total, dict(bulletins), titles, dict(topics),
                   {t: dict(z) for t, z in topic_zones.items()}, dict(zones),
                   dict(sorted(months.items())), dict(reasons),
                   dict(sorted(languages.items(), key=lambda kv: (kv[0] != "vi", kv[0]))),
                   dict(store.voices(where)))


__all__ = ["AIRED", "ON_AIR", "Summary", "Tally", "summarize"]
