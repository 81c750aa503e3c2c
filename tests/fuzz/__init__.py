"""A seeded, bounded fuzzer for loa's inputs: real files in, the real CLI in a subprocess.

seeds.py builds the seed files (the repo's schedule, bulletins, template and plans, plus a
DOCX and a PDF made from a plan); mutators.py changes them (YAML-aware, byte-level,
DOCX/PDF-specific); harness.py runs each case through `python -m loa` under limits and
classifies what came back. tests/test_fuzz.py and benchmarks/fuzz.py drive it.
"""
