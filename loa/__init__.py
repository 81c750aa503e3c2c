"""loa: loudspeaker radio for Vietnamese communes and villages.

Pipeline stages, each a sub-package, data flowing one way:
plan -> script -> voice -> audio -> schedule -> player -> log -> report.
The CLI (loa.cli) only wires them together.
"""

__version__ = "0.1.0"
