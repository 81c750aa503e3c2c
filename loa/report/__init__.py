"""Stage 8: exports and reports from the as-played log."""

from loa.report.export import CSV_HEADERS, export_csv

__all__ = ["CSV_HEADERS", "export_csv"]
