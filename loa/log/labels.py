"""What the officer reads for the log's codes, applied when the log is read or exported.

The database keeps codes only ('played', 'khan-cap', 'device-error'): a wording changed
here shows at once in `loa log`, CSV, XLSX, JSON and DOCX, and no database drifts."""

from __future__ import annotations

STATUS_VI = {
    "playing": "đang phát",
    "played": "đã phát",
    "late": "phát muộn",
    "failed": "lỗi",
    "missed": "bị lỡ",
    "interrupted": "bị ngắt",
    "skipped": "bỏ qua",
}
# Of the engines only a recording gets words: the TTS codes (gtts, espeak, piper) are
# names a technician searches for, and exports have always shown them as they are.
ENGINE_VI = {"ghi-am": "giọng đọc thu âm"}
KIND_VI = {"lich": "theo lịch", "khan-cap": "khẩn cấp", "thong-bao": "thông báo"}
EVENT_VI = {
    "start": "khởi động", "stop": "dừng", "reload": "nạp lại lịch",
    "reload-failed": "nạp lại lịch lỗi", "clock-jump": "đồng hồ nhảy",
    "clock-trusted": "đồng hồ đã đúng", "clock-untrusted": "đồng hồ chưa tin được",
    "device-error": "lỗi thiết bị", "underflow": "âm thanh bị hụt", "emergency": "tin khẩn cấp",
    "log-write-failed": "không ghi được sổ", "log-reconciled": "đã ghi bù sổ",
    "disk-low": "đĩa sắp đầy", "disk-ok": "đĩa đủ chỗ trở lại",
    "reserve-released": "nhả chỗ dự trữ", "emergency-dropped": "bỏ tin khẩn cấp",
    "reconcile-conflict": "không ghi bù được",
    "not-approved": "không phát bản tin",
}


def kind_of(session: str) -> str:
    """The kind of a play from its session: 'khan-cap', 'thong-bao' or 'lich'."""
    if session == "khan-cap":
        return "khan-cap"
    return "thong-bao" if session.startswith("thong-bao:") else "lich"


def status_label(code: str | None) -> str:
    """'missed' -> 'bị lỡ'; an unknown code is shown as it is (never lost)."""
    return STATUS_VI.get(code, code) if code else ""


def kind_label(code: str | None) -> str:
    return KIND_VI.get(code, code) if code else ""


def engine_label(code: str | None) -> str:
    """'ghi-am' -> 'giọng đọc thu âm'; an engine's code as it is."""
    return ENGINE_VI.get(code, code) if code else ""


def event_label(code: str | None) -> str:
    return EVENT_VI.get(code, code) if code else ""


def status_code(text: str) -> str | None:
    """A status as an officer may type it, code or label ('bị lỡ', 'Bị lỡ', 'missed');
    None if it is neither."""
    if text in STATUS_VI:
        return text
    wanted = " ".join(text.split()).lower()
    return next((k for k, v in STATUS_VI.items() if v == wanted), None)


class Names:
    """Ids the log keeps (zone 'thon-1', plan 'kstthc-2024') -> the names officers know
    them by, from the station's schedule and plans. The log stores ids only: names are
    the schedule's and may be edited; an id without a name is shown as it is."""

    KINDS = ("station", "zone", "program", "session", "plan")

    def __init__(self, station: dict[str, str] | None = None,
                 zone: dict[str, str] | None = None, program: dict[str, str] | None = None,
                 session: dict[str, str] | None = None, plan: dict[str, str] | None = None):
        self.maps = {"station": dict(station or {}), "zone": dict(zone or {}),
                     "program": dict(program or {}), "session": dict(session or {}),
                     "plan": dict(plan or {})}

    @classmethod
    def of(cls, names: Names | dict[str, str] | None) -> Names:
        """Names as given, or the zone-id -> name dict the exports used to take."""
        if isinstance(names, Names):
            return names
        return cls(zone=names)

    @classmethod
    def from_schedule(cls, schedule, bulletin_files=()) -> Names:
        """From a loaded Schedule (loa.schedule) and the bulletin files it uses."""
        plans = {}
        for bfile in bulletin_files:
            pid, title = bfile.plan.get("id"), bfile.plan.get("title")
            if pid and title:
                plans[str(pid)] = str(title)
        st = schedule.station
        return cls(station={st.id: st.name},
                   zone={z.id: z.name for z in schedule.zones.values()},
                   program={p.id: p.name for p in schedule.programs.values()},
                   session={s.id: s.name for s in schedule.sessions.values()},
                   plan=plans)

    def name(self, kind: str, key: str | None) -> str:
        """The name of `key`, else the key itself."""
        if not key:
            return ""
        found = self.maps[kind].get(key)
        if found:
            return found
        if kind in ("program", "session") and kind_of(key) != "lich":
            return KIND_VI.get(kind_of(key), key)  # an emergency or one-off has no session
        return key

    def known(self, kind: str, key: str | None) -> str:
        """The name of `key`, else '' (beside an id column, where the id is already shown)."""
        return self.maps[kind].get(key or "", "")

    def zone(self, key: str | None) -> str:
        return self.name("zone", key)

    def plan(self, bulletin: str | None) -> str:
        """The plan a bulletin key ('kstthc-2024/II.1.a') belongs to, by its title."""
        return self.known("plan", plan_of(bulletin))


def plan_of(bulletin: str | None) -> str:
    """'kstthc-2024/II.1.a' -> 'kstthc-2024'; '' for a bulletin outside any plan."""
    head, sep, _ = (bulletin or "").partition("/")
    return head if sep else ""


def outline_of(bulletin: str | None) -> str:
    """'kstthc-2024/II.1.a' -> 'II.1.a': the item as the plan numbers it."""
    return (bulletin or "").rpartition("/")[2]
