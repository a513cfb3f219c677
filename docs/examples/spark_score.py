"""docs/data.md's Spark snippet, runnable: predict_batch_udf over the sunspots windows, checked against score.

    pip install pyspark                     # plus Java 17; not an edgernn extra
    python docs/examples/spark_score.py     # from the repository root

Prints the number of rows and the max abs difference from `edgernn score` (0.0 when last run, on
pyspark 4.3.0 in local mode, with the numpy backend on both sides).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from pyspark.ml.functions import predict_batch_udf
from pyspark.sql import SparkSession
from pyspark.sql.types import ArrayType, FloatType

from edgernn.runtime.data.plan import cut, plan_for
from edgernn.runtime.data.score import score
from edgernn.runtime.data.source import open_source
from edgernn.runtime.manifest import Manifest

ROOT = Path(__file__).resolve().parents[2]
BUNDLE, DATA = ROOT / "models" / "sunspots-gru", ROOT / "data" / "sunspots.csv"


def make_predict_fn():
    from edgernn.runtime import load

    p = load(BUNDLE, backend="numpy")  # once per Python worker
    t, f = p.spec.timesteps, p.spec.features

    def predict(x: np.ndarray) -> np.ndarray:  # x: (batch, t * f), time-major
        return p.predict(x.reshape(-1, t, f))  # -> (batch, outputs)

    return predict


def main() -> None:
    source = open_source(DATA)
    windows = cut(source, plan_for(Manifest.read(BUNDLE), source), 0, source.rows)  # every window, as score cuts
    spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
    rows = [(int(r), [float(v) for v in x.ravel()]) for r, x in zip(windows.rows, windows.x)]
    windows_df = spark.createDataFrame(rows, ["row", "window"])
    predict = predict_batch_udf(
        make_predict_fn, return_type=ArrayType(FloatType()), batch_size=4096, input_tensor_shapes=[[12]]
    )
    scored = windows_df.withColumn("prediction", predict("window")).orderBy("row").toPandas()
    spark.stop()
    with tempfile.TemporaryDirectory() as tmp:
        score(BUNDLE, DATA, Path(tmp) / "s.csv", backend="numpy")
        want = np.genfromtxt(Path(tmp) / "s.csv", delimiter=",", names=True)
    got = np.array([p[0] for p in scored["prediction"]])
    assert scored["row"].tolist() == want["row"].astype(int).tolist()
    print(f"{len(got)} rows; max abs difference from edgernn score: {np.abs(got - want['SUNACTIVITY_pred']).max()}")


if __name__ == "__main__":
    main()
