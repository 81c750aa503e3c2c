"""`loa voices add/list/remove`: a Vietnamese piper voice a technician copies onto the
machine is checked (its .onnx.json beside it, Vietnamese, loaded by onnxruntime, speaking a
test sentence), installed into loa's data folder, chosen by a station by name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import write_station
from tiny_piper import build

from loa.cli import main


def _err(capsys) -> str:
    return capsys.readouterr().err


def _station_with(tmp_path: Path, model: str) -> Path:
    path = write_station(tmp_path / "s", {"station": {
        "id": "ba-vi", "name": "Đài truyền thanh xã Ba Vì", "engines": ["piper", "espeak"],
        "piper_model": model}})
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if needle in line)


def test_add_list_choose_render_remove(tmp_path, data_dir, capsys):
    model = build(tmp_path / "usb")  # as copied from a USB stick
    assert main(["voices", "list"]) == 0
    assert "Chưa cài giọng đọc piper nào" in capsys.readouterr().out

    assert main(["voices", "add", str(model)]) == 0
    out = capsys.readouterr().out
    assert "Đã kiểm tra và cài giọng đọc piper vi_VN-tiny-low (vi" in out
    assert "piper_model: vi_VN-tiny-low" in out
    installed = data_dir / "voices" / "vi_VN-tiny-low.onnx"
    assert installed.read_bytes() == model.read_bytes()
    assert Path(f"{installed}.json").read_bytes() == Path(f"{model}.json").read_bytes()
    assert sorted(p.name for p in installed.parent.iterdir()) == [
        "vi_VN-tiny-low.onnx", "vi_VN-tiny-low.onnx.json"]  # no temporary file left
    assert main(["voices", "list"]) == 0
    assert "vi_VN-tiny-low (vi, 22050 Hz" in capsys.readouterr().out
    # the same name again is refused, another name is fine
    assert main(["voices", "add", str(model)]) == 2
    assert "đã có giọng đọc tên 'vi_VN-tiny-low'" in _err(capsys)
    assert main(["voices", "add", str(model), "--name", "giong-xa"]) == 0
    capsys.readouterr()

    # a station chooses it by name; it reads the bulletins
    station = _station_with(tmp_path, "vi_VN-tiny-low")
    assert main(["validate", str(station)]) == 0
    from loa.schedule import load_schedule

    assert load_schedule(station).station.piper_model == installed
    assert main(["render", str(station)]) == 0
    assert "theo bộ đọc: piper 2" in capsys.readouterr().out

    # removed: the station that names it is refused, naming its file and line
    assert main(["voices", "remove", "vi_VN-tiny-low"]) == 0
    assert "Đã gỡ giọng đọc piper vi_VN-tiny-low" in capsys.readouterr().out
    assert not installed.exists() and not Path(f"{installed}.json").exists()
    assert main(["validate", str(station)]) == 2
    err = _err(capsys)
    line = _line_of(station, "piper_model")
    assert f"dòng {line}" in err and "lich.yaml" in err
    assert ("giọng đọc piper 'vi_VN-tiny-low' chưa được cài trên máy này (các giọng đã cài: "
            "giong-xa); cài bằng: loa voices add TỆP.onnx") in err
    assert main(["voices", "remove", "khong-co"]) == 2
    assert "không có giọng đọc nào tên 'khong-co' (đã cài: giong-xa)" in _err(capsys)


def test_a_station_naming_a_voice_never_installed(tmp_path, data_dir, capsys):
    station = _station_with(tmp_path, "vi_VN-chua-cai")
    assert main(["validate", str(station)]) == 2
    err = _err(capsys)
    assert f"dòng {_line_of(station, 'piper_model')}" in err
    assert "giọng đọc piper 'vi_VN-chua-cai' chưa được cài trên máy này (chưa cài giọng nào)" in err
    assert not (data_dir / "voices").exists()  # looking installs nothing


def _broken(tmp_path: Path, how: str) -> Path:
    model = build(tmp_path / how)
    config = Path(f"{model}.json")
    if how == "not-onnx":
        model.write_bytes(b"PK\x03\x04 this is a zip, not a model" * 20)
    elif how == "no-json":
        config.unlink()
    elif how == "english":
        data = json.loads(config.read_text(encoding="utf-8"))
        data["language"] = {"code": "en_US", "family": "en"}
        data["espeak"] = {"voice": "en-us"}
        config.write_text(json.dumps(data, indent=1), encoding="utf-8")
    elif how == "no-language":
        data = json.loads(config.read_text(encoding="utf-8"))
        del data["espeak"]
        config.write_text(json.dumps(data), encoding="utf-8")
    elif how == "bad-json":
        config.write_text('{\n  "audio": {"sample_rate": 22050},\n  "espeak": {voice: "vi"}\n}',
                          encoding="utf-8")
    elif how == "wrong-inputs":  # ONNX, but not a piper voice: other inputs
        import onnx
        from onnx import TensorProto, helper

        graph = helper.make_graph(
            [helper.make_node("Identity", ["x"], ["y"])], "other",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        onnx.save(m, model)
    elif how == "not-dot-onnx":
        other = model.with_suffix(".bin")
        shutil.move(model, other)
        return other
    return model


@pytest.mark.parametrize("how, file, says", [
    ("not-onnx", "vi_VN-tiny-low.onnx", "tệp không phải mô hình ONNX đọc được (onnxruntime: "),
    ("no-json", "vi_VN-tiny-low.onnx.json",
     "thiếu tệp cấu hình 'vi_VN-tiny-low.onnx.json' đi kèm giọng đọc"),
    ("english", "vi_VN-tiny-low.onnx.json",
     "giọng đọc này là ngôn ngữ 'en_US', không phải tiếng Việt (vi_VN)."),
    ("no-language", "vi_VN-tiny-low.onnx.json", "tệp cấu hình không ghi ngôn ngữ"),
    ("bad-json", "vi_VN-tiny-low.onnx.json, dòng 3",
     "tệp cấu hình giọng đọc không phải JSON hợp lệ"),
    ("wrong-inputs", "vi_VN-tiny-low.onnx", "giọng đọc không đọc được câu thử ("),
    ("not-dot-onnx", "vi_VN-tiny-low.bin", "tệp giọng đọc piper phải là tệp .onnx"),
])
def test_a_voice_loa_cannot_use_is_refused_and_nothing_installed(tmp_path, data_dir, capsys,
                                                                 how, file, says):
    model = _broken(tmp_path, how)
    assert main(["voices", "add", str(model)]) == 2
    err = _err(capsys)
    assert err.startswith("Lỗi: ") and "Traceback" not in err
    assert file in err and says in err, err
    voices = data_dir / "voices"
    assert not voices.exists() or not any(voices.iterdir())
    assert main(["voices", "list"]) == 0
    assert "Chưa cài giọng đọc piper nào" in capsys.readouterr().out


def test_a_name_loa_cannot_use_is_refused(tmp_path, data_dir, capsys):
    model = build(tmp_path / "usb")
    assert main(["voices", "add", str(model), "--name", "../ngoai"]) == 2
    assert "tên giọng đọc '../ngoai' chỉ được gồm" in _err(capsys)
    assert not (tmp_path / "ngoai.onnx").exists()


def test_the_schedule_editor_keeps_the_name(tmp_path, data_dir):
    """A voice chosen by name is written back as its name, not the data folder's path."""
    from loa.schedule.schema import PiperModel
    from loa.settings import voices_dir

    assert PiperModel().dump(voices_dir() / "vi_VN-tiny-low.onnx") == "vi_VN-tiny-low"
    assert PiperModel().dump(tmp_path / "giong.onnx") == str(tmp_path / "giong.onnx")
