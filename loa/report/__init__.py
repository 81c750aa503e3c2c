"""Stage 8: exports and reports from the as-played log."""

from loa.report.export import CSV_HEADERS, UPWARD_FIELDS, export_csv, export_json
from loa.report.summary import Summary, Tally, summarize

__all__ = ["CSV_HEADERS", "UPWARD_FIELDS", "Summary", "Tally", "export_csv", "export_json",
           "summarize"]
