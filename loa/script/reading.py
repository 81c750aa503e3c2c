"""A station's reading rules, built on first use and known by a fingerprint.

A fully cached `loa render` only looks clips up by their spoken text. When the clip store
remembers each text's reading under this fingerprint, such a run needs neither the
normalizer's regexes nor its lexicon (about 60 ms of every start).
"""

from __future__ import annotations

import hashlib
import threading
import unicodedata
from pathlib import Path

_HERE = Path(__file__).parent
# What a reading depends on besides its arguments: the rules' code and the lexicon shipped.
_SOURCES = ("normalize.py", "_norm_lexicon.py", "_norm_numbers.py", "lexicon.yaml")


class Reading:
    """Callable like Normalizer.normalize; `fingerprint` changes whenever a reading could:
    the options, the station's lexicon file, the normalizer's code or built-in lexicon."""

    def __init__(self, variant: str = "north", day_prefix: str | None = "mùng",
                 lexicon_files: list[str | Path] | tuple = ()):
        self.variant, self.day_prefix = variant, day_prefix
        self.lexicon_files = [Path(f) for f in lexicon_files]
        self._normalizer = None
        self._lock = threading.Lock()
        digest = hashlib.sha256(
            repr((variant, day_prefix, unicodedata.unidata_version)).encode("utf-8"))
        for path in [*(_HERE / name for name in _SOURCES), *self.lexicon_files]:
            try:
                digest.update(path.read_bytes())
            except OSError:
                self.normalizer()  # raises the normalizer's own Vietnamese error
                raise
        self.fingerprint = digest.hexdigest()

    def normalizer(self):
        with self._lock:
            if self._normalizer is None:
                from loa.script.normalize import Normalizer

                self._normalizer = Normalizer(variant=self.variant,
                                              day_prefix=self.day_prefix,
                                              lexicon_files=self.lexicon_files)
            return self._normalizer

    def __call__(self, text: str) -> str:
        return self.normalizer().normalize(text)
