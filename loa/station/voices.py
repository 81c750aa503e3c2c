"""Piper voices a technician copies onto the machine: checked, installed into loa's data
folder (voices/NAME.onnx beside NAME.onnx.json), listed, removed. A station chooses one by
name: `piper_model: NAME` and `engines: [piper, espeak]` in its schedule."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from loa.errors import LoaError, excerpt

_NAME = re.compile(r"[A-Za-z0-9][\w.-]{0,79}")


@dataclass(frozen=True)
class InstalledVoice:
    name: str
    path: Path  # the .onnx; its .onnx.json is beside it
    language: str  # 'vi_VN'
    quality: str  # piper's 'low', 'medium', 'high', or ''
    sample_rate: int | None
    size: int  # bytes of the model

    @property
    def setting(self) -> str:
        """What a station writes to choose it."""
        return f"piper_model: {self.name}"


def _describe(path: Path) -> InstalledVoice:
    from loa.voice.piper_engine import read_voice_config, voice_language

    config = read_voice_config(path)
    audio = config.get("audio") if isinstance(config.get("audio"), dict) else {}
    rate = audio.get("sample_rate")
    quality = audio.get("quality")
    return InstalledVoice(path.name.removesuffix(".onnx"), path, voice_language(config),
                          quality if isinstance(quality, str) else "",
                          rate if isinstance(rate, int) else None, path.stat().st_size)


def installed_voices() -> list[InstalledVoice]:
    """Every voice installed (both files there and readable), by name."""
    from loa import settings

    folder = settings.voices_dir()
    out = []
    for path in sorted(folder.glob("*.onnx")) if folder.is_dir() else ():
        try:
            out.append(_describe(path))
        except (LoaError, OSError):
            continue  # half there (an add interrupted): not a voice
    return out


def _name_for(model: Path, name: str | None) -> str:
    name = name or model.name.removesuffix(".onnx")
    if not _NAME.fullmatch(name):
        raise LoaError(f"tên giọng đọc '{excerpt(name)}' chỉ được gồm chữ không dấu, số, '-', "
                       "'_' và '.' (tối đa 80 ký tự); đặt tên khác bằng --name.")
    return name


def add_voice(model: str | Path, name: str | None = None) -> InstalledVoice:
    """Check a piper voice (see check_voice) and install it under `name` (default: the
    file's name without .onnx). LoaError (Vietnamese, naming the file) if it is not a
    usable Vietnamese voice or the name is taken."""
    from loa import settings
    from loa.fsio import atomic_copy, loa_error
    from loa.voice.piper_engine import check_voice

    model = Path(model)
    name = _name_for(model, name)
    target = settings.voices_dir() / f"{name}.onnx"
    if target.exists():
        raise LoaError(f"đã có giọng đọc tên '{name}' trên máy này; gỡ nó trước (loa voices "
                       f"remove {name}) hoặc đặt tên khác bằng --name.", model)
    check_voice(model)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # the config first: a voice counts as installed once its model is in place
        atomic_copy(Path(str(model) + ".json"), Path(str(target) + ".json"))
        atomic_copy(model, target)
    except OSError as exc:
        raise loa_error(exc, target) from None
    return _describe(target)


def remove_voice(name: str) -> InstalledVoice:
    """Uninstall a voice; LoaError if there is none of that name. A station that still
    names it is refused by `loa validate` (and keeps playing its clips already made)."""
    from loa import settings
    from loa.fsio import loa_error

    path = settings.voices_dir() / f"{name}.onnx"
    if not _NAME.fullmatch(name) or not path.is_file():
        have = ", ".join(v.name for v in installed_voices()) or "chưa cài giọng nào"
        raise LoaError(f"không có giọng đọc nào tên '{excerpt(name)}' (đã cài: {have}).")
    voice = _describe(path)
    try:
        path.unlink()
        Path(str(path) + ".json").unlink(missing_ok=True)
    except OSError as exc:
        raise loa_error(exc, path) from None
    return voice
