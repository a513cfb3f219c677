"""The speed issue's figures, measured within one benchmarks/run.py run (section of RESULTS.md).

- `current_bundles`: the seed bundles re-exported from models/*/model.keras with the code as it is
  (folded units, native ONNX ops), with each manifest's own preprocessing, into a temp folder.
- `onnx_forms`: onnxruntime batch-1 latency of the native graph against tf2onnx's unrolled graph of
  the same model, and against the LSTM (the fused floor), interleaved.
- `scaling`: batch-1024 throughput at 1 thread and at every core, LiteRT and onnxruntime, and the
  achieved GFLOP/s beside numpy's float32 1024x1024 matmul on every core, for seed-lstm and an
  LSTM(64) on (24, 3).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from edgernn.runtime import Bundle, backends
from edgernn.runtime.cli import speed
from edgernn.runtime.cli.bench import windows

SEEDS = ("seed-simplernn", "seed-lstm", "seed-gru")


def current_bundles(models: Path, root: Path) -> dict[str, Path]:
    """Each seed's model.keras exported again (tflite, onnx, numpy) with its manifest's preprocessing."""
    from edgernn.export import export_bundle

    out = {}
    for seed in SEEDS:
        pre = json.loads((models / seed / "manifest.json").read_text())["preprocessing"]
        maps = dict(
            offset=pre["input"]["offset"],
            scale=pre["input"]["scale"],
            output_offset=pre["output"]["offset"],
            output_scale=pre["output"]["scale"],
        )
        out[seed] = export_bundle(models / seed / "model.keras", root / seed, **maps).path
    return out


def _session(path: Path, threads: int = 1):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_forms(bundles: dict[str, Path], root: Path, interleaved) -> dict[str, dict[str, Any]]:
    """Per seed: batch-1 session.run latency (us) of the native model.onnx and of tf2onnx's unrolled graph."""
    import keras

    from edgernn.export.formats.base import UNROLLED, GraphForm
    from edgernn.export.formats.onnx import convert
    from edgernn.export.model_info import inspect_model

    fns, ops = {}, {}
    for seed, path in bundles.items():
        model = keras.saving.load_model(path / "model.keras", compile=False)
        info = inspect_model(model)
        unrolled = root / f"{seed}.unrolled.onnx"
        convert.write(model, unrolled, info, GraphForm(UNROLLED, "benchmark"))
        x = np.zeros((1, info.timesteps, info.features), np.float32)
        floor = _identity_onnx(root / f"{seed}.identity.onnx")
        bundle = Bundle.open(path)
        entry = bundle.artifact_for("onnxruntime")
        for form, file in (("native", path / "model.onnx"), ("unrolled", unrolled), ("floor", floor)):
            session = _session(file)
            fns[(seed, form)] = lambda s=session: s.run(["output"], {"input": x})
            if form != "floor":  # what predict pays: edgernn's backend on the same file (bound I/O at batch 1)
                runner = backends.open_window("onnxruntime", file.read_bytes(), entry, bundle.manifest.spec)
                fns[(seed, f"{form} backend")] = lambda r=runner: r.run(x)
            import onnx

            ops[(seed, form)] = convert.op_types(onnx.load(str(file)))
    times = interleaved({f"{s}|{f}": fn for (s, f), fn in fns.items()})
    out: dict[str, dict[str, Any]] = {}
    for (seed, form), _ in fns.items():
        out.setdefault(seed, {})[form] = times[f"{seed}|{form}"]
        if (seed, form) in ops:
            out[seed][f"{form} ops"] = ops[(seed, form)]
    return out


def _identity_onnx(path: Path) -> Path:
    """A one-op graph (output = Identity(input)): what any session.run costs before an op computes."""
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Identity", ["input"], ["output"])
    graph = helper.make_graph(
        [node],
        "floor",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", None, None])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def lstm64(root: Path) -> Path:
    """An LSTM(64) on (24, 3) with seeded weights (speed only: no training), tflite + onnx."""
    from edgernn.export import export_bundle
    from edgernn.train import build_model

    model = build_model("lstm", (64,), timesteps=24, features=3, outputs=1, seed=5)
    return export_bundle(model, root / "lstm64-24x3", formats=("tflite", "onnx")).path


def scaling(paths: dict[str, Path], rounds: int = 3) -> dict[str, Any]:
    """Batch-1024 windows/s at 1 thread and every core per (bundle, backend), GFLOP/s and the sgemm peak.

    Rounds alternate 1 thread and every core, and each figure is its best round, so a burst of load
    from other jobs does not land on one side only.
    """
    cores = os.cpu_count() or 1
    peak = max(speed.sgemm_peak_gflops() for _ in range(rounds))
    rows = []
    for name, path in paths.items():
        bundle = Bundle.open(path)
        x = windows(bundle.manifest.spec, speed.BATCH, seed=1)
        count = speed.macs(bundle.manifest)
        for backend in ("litert", "onnxruntime"):
            if not backends.available(backend):
                continue
            art = bundle.artifact_for(backend)
            one = many = 0.0
            for _ in range(rounds):
                one = max(one, speed.batch_throughput(bundle, art, backend, 1, x))
                many = max(many, speed.batch_throughput(bundle, art, backend, cores, x))
            gflops = max(one, many) * 2 * count / 1e9 if count else None
            share = gflops / peak if gflops else None
            rows.append([name, backend, art.graph_form, one, many, many / one, count, gflops, share])
    return {"cores": cores, "peak": peak, "rows": rows}


def section(results: dict[str, Any], md_table) -> list[str]:
    """RESULTS.md lines for the speed figures (when run.py measured them)."""
    forms, scale = results.get("onnx_forms"), results.get("scaling")
    out = []
    if forms:
        lstm = forms.get("seed-lstm", {}).get("native")
        out += [
            "## onnxruntime: native recurrent ops vs tf2onnx's unrolled graph (batch 1, us per session.run)",
            "",
            "The same model.keras written both ways; `native` is one ONNX RNN/GRU/LSTM op per layer",
            "(export/formats/onnx/native.py), `unrolled` is tf2onnx's graph with unroll=True. `floor` is",
            "session.run of a one-op Identity graph on the same input: the fixed cost no graph form avoids;",
            "`above floor` compares the two forms' own work, (unrolled - floor) / (native - floor).",
            "`backend` columns: the same two files through edgernn's onnxruntime backend (`OrtBackend.run`, what",
            "predict pays: an IOBinding on preallocated buffers at batch 1, runtime/backends/ort.py).",
            "",
            md_table(
                [
                    "bundle",
                    "native",
                    "unrolled",
                    "floor",
                    "unrolled / native",
                    "above floor",
                    "native backend",
                    "unrolled backend",
                    "unrolled / native, backend",
                    "native / seed-lstm native",
                    "native ops",
                ],
                [
                    [
                        s,
                        f["native"],
                        f["unrolled"],
                        f["floor"],
                        f["unrolled"] / f["native"],
                        (f["unrolled"] - f["floor"]) / max(f["native"] - f["floor"], 1e-9),
                        f.get("native backend"),
                        f.get("unrolled backend"),
                        f["unrolled backend"] / f["native backend"] if "native backend" in f else None,
                        f["native"] / lstm,
                        _ops(f),
                    ]
                    for s, f in forms.items()
                ],
            ),
            "",
        ]
    if scale:
        out += [
            f"## Batch 1024: 1 thread vs every core ({scale['cores']}), and GFLOP/s against the sgemm peak",
            "",
            f"sgemm peak = numpy float32 1024x1024 matmul on every core, best of the run: {scale['peak']:.1f} GFLOP/s.",
            "GFLOP/s = windows/s (the better of the two) x 2 x the manifest's multiply-adds per window.",
            "",
            md_table(
                [
                    "bundle",
                    "backend",
                    "form",
                    "windows/s 1 thread",
                    "windows/s all cores",
                    "all / 1",
                    "MACs/window",
                    "GFLOP/s",
                    "of sgemm peak",
                ],
                scale["rows"],
            ),
            "",
        ]
    return out


def _ops(forms: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(forms["native ops"].items()))
