"""Build a tiny piper voice: a real ONNX model with piper's inputs and outputs.

It turns phoneme ids into a 220 Hz tone, 256 samples per id times length_scale: enough
to prove that loa's piper engine loads a model file, phonemizes, runs the model and
honours the speed, without any model from the internet.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import onnx
from onnx import TensorProto, helper

RATE = 22050
HOP = 256


def build(folder: Path, name: str = "vi_VN-tiny-low") -> Path:
    c = helper.make_node
    nodes = [
        c("Shape", ["input"], ["shape"]),
        c("Constant", [], ["one"], value=helper.make_tensor("one", TensorProto.INT64, [], [1])),
        c("Gather", ["shape", "one"], ["n"]),
        c("Cast", ["n"], ["n_f"], to=TensorProto.FLOAT),
        c("Constant", [], ["hop"], value=helper.make_tensor("hop", TensorProto.FLOAT, [], [HOP])),
        c("Gather", ["scales", "one"], ["length_scale"]),
        c("Mul", ["n_f", "hop"], ["t0"]),
        c("Mul", ["t0", "length_scale"], ["t1"]),
        c("Floor", ["t1"], ["t"]),
        c("Constant", [], ["zero"], value=helper.make_tensor("zero", TensorProto.FLOAT, [], [0])),
        c("Constant", [], ["step"], value=helper.make_tensor("step", TensorProto.FLOAT, [], [1])),
        c("Range", ["zero", "t", "step"], ["idx"]),
        c("Constant", [], ["w"], value=helper.make_tensor(
            "w", TensorProto.FLOAT, [], [2 * math.pi * 220 / RATE])),
        c("Mul", ["idx", "w"], ["phase"]),
        c("Sin", ["phase"], ["wave"]),
        c("Constant", [], ["amp"], value=helper.make_tensor("amp", TensorProto.FLOAT, [], [0.3])),
        c("Mul", ["wave", "amp"], ["audio"]),
        c("Constant", [], ["axes"], value=helper.make_tensor("axes", TensorProto.INT64, [2],
                                                             [0, 1])),
        c("Unsqueeze", ["audio", "axes"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_piper",
        [helper.make_tensor_value_info("input", TensorProto.INT64, [1, None]),
         helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
         helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, None])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.onnx"
    onnx.save(model, path)
    from piper.phoneme_ids import DEFAULT_PHONEME_ID_MAP

    config = {
        "audio": {"sample_rate": RATE},
        "espeak": {"voice": "vi"},
        "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8},
        "phoneme_type": "espeak",
        "phoneme_id_map": DEFAULT_PHONEME_ID_MAP,
        "num_symbols": 256,
        "num_speakers": 1,
    }
    Path(str(path) + ".json").write_text(json.dumps(config), encoding="utf-8")
    return path
