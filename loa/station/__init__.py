"""The station service layer: the operations both faces (the `loa` CLI, the web console)
need, on plain values (paths, ids, words, dates), returning data, never printing.

Operator mistakes raise LoaError in Vietnamese naming the file (and line). Time comes
from the clock a face passes in (default: the wall clock in the station's zone). Importing
this package is cheap: each operation imports the stages it uses when called.
"""

from loa.station.audio import (
    RenderResult,
    Said,
    Voicing,
    check_clips,
    find_clip,
    find_listen_clip,
    list_clips,
    listen_clip,
    needed_bulletins,
    play_clip,
    prune_clips,
    reading,
    render,
    say,
)
from loa.station.bulletins import (
    BulletinList,
    BulletinView,
    Drafted,
    approve_bulletins,
    draft_bulletins,
    edit_bulletin,
    list_bulletins,
    os_account,
    plan_text,
    read_plan,
    record_bulletin,
    retire_bulletins,
    return_bulletin,
    show_bulletin,
    show_bulletins,
    submit_bulletins,
)
from loa.station.calendar import PlannedItem, PlannedSession, export_ics, preview, upcoming
from loa.station.core import LoadedStation, Validation, effective_config, load_station, validate
from loa.station.emergency import (
    Approved,
    Progress,
    Sent,
    approved_bulletins,
    emergency_progress,
    send_emergency,
)
from loa.station.logs import (
    LogPage,
    Names,
    PlayView,
    Reported,
    export_log,
    log_filter,
    log_page,
    make_report,
    names_for,
    names_of,
    period_from_text,
    period_of,
    query_events,
    query_plays,
    report_data,
)
from loa.station.runner import run_daemon
from loa.station.schedule_edit import ScheduleDraft, open_schedule, save_schedule
from loa.station.status import (
    DaemonStatus,
    Event,
    Overview,
    daemon_status,
    overview,
    when_vi,
)

__all__ = [
    "Approved", "LogPage", "Overview", "Progress", "approved_bulletins", "emergency_progress",
    "log_page", "names_of", "overview", "period_from_text", "when_vi",
    "BulletinList", "BulletinView", "DaemonStatus", "Drafted", "Event", "LoadedStation",
    "Names", "PlannedItem", "PlannedSession", "PlayView", "RenderResult", "Reported", "Said",
    "ScheduleDraft", "Sent", "Validation",
    "approve_bulletins", "check_clips", "daemon_status", "draft_bulletins", "edit_bulletin",
    "effective_config",
    "export_ics", "export_log", "find_clip", "list_bulletins", "list_clips", "load_station",
    "log_filter", "make_report", "names_for", "needed_bulletins", "open_schedule", "period_of",
    "plan_text",
    "play_clip", "preview", "prune_clips", "query_events", "query_plays", "read_plan",
    "record_bulletin", "render", "report_data", "retire_bulletins", "run_daemon", "save_schedule", "say",
    "send_emergency",
    "show_bulletin", "upcoming", "validate",
    "Voicing", "find_listen_clip", "listen_clip", "os_account", "reading", "return_bulletin",
    "show_bulletins", "submit_bulletins",
]
