"""Audio settings: what every clip's sound depends on (part of its cache key).

Kept apart from production so that looking a clip up never loads scipy.
"""

from __future__ import annotations

from dataclasses import dataclass

RATE = 44100
PRESETS = ("none", "horn")
TRIM_KEEP_S = 0.05  # quiet kept at each end of trimmed speech


@dataclass(frozen=True)
class AudioSettings:
    rate: int = RATE
    target_lufs: float = -16.0
    ceiling_dbtp: float = -1.0
    chime: bool = True
    part_gap_s: float = 0.6  # between chime, intro, body, outro
    sentence_gap_s: float = 0.35
    preset: str = "none"  # "horn": speech band 250-4500 Hz and gentle compression
    silence_threshold_dbfs: float = -45.0

    def fingerprint(self) -> str:
        """Everything that changes the audio; part of every clip's cache key."""
        return (f"v2;rate={self.rate};lufs={self.target_lufs};tp={self.ceiling_dbtp};"
                f"chime={self.chime};gap={self.part_gap_s};sgap={self.sentence_gap_s};"
                f"preset={self.preset};thr={self.silence_threshold_dbfs}")
