"""model_test.c: the golden windows and Keras's answers in raw units, checked against model.c.

What a firmware engineer runs on the target: it prints one line and exits 0 when every output is
within the bundle's tolerance (converted to raw units per output), 1 otherwise. A model that can
stream is also stepped through each window, whose last y_t must match too.
"""

from __future__ import annotations

import numpy as np

from edgernn.runtime.manifest import Spec

from .kernels import c_float


def _nested(values: np.ndarray) -> str:
    if values.ndim == 1:
        return "{" + ", ".join(c_float(v) for v in values) + "}"
    return "{\n  " + ",\n  ".join(_nested(v) for v in values) + "}"


def test_program(
    prefix: str, header_file: str, spec: Spec, inputs: np.ndarray, outputs: np.ndarray, tol: float, can_step: bool
) -> str:
    """The C text; `inputs` (n, T, F) and `outputs` (n, OUT) or (n, T, OUT) in model units, `tol` model units."""
    p, P = prefix, prefix.upper()
    x_raw = spec.x.to_raw(np.asarray(inputs, np.float32))
    y_raw = spec.y.to_raw(np.asarray(outputs, np.float32))
    # A model-unit bound is a raw-unit bound / |scale| per output, plus float32 rounding of the raw value.
    scale = np.broadcast_to(np.abs(spec.y.scale.astype(np.float64)), spec.outputs)
    raw_tol = tol / scale + 4 * np.finfo(np.float32).eps * np.abs(y_raw).max()
    n = len(x_raw)
    seq = spec.sequence_output
    yshape = f"[{P}_T][{P}_OUT]" if seq else f"[{P}_OUT]"
    per = f"{P}_T * {P}_OUT" if seq else f"{P}_OUT"
    flat = "&y[0][0]" if seq else "y"
    exp = "&expected[n][0][0]" if seq else "expected[n]"
    step = ""
    if can_step and not seq:
        step = (
            f"    {p}_reset(&s);\n"
            f"    for (t = 0; t < {P}_T; ++t) {p}_step(&s, inputs[n][t], y_t);\n"
            f"    bad += check(y_t, expected[n], {P}_OUT, &worst);\n"
        )
    decl = f"  {p}_state s;\n  float y_t[{P}_OUT];\n  int t;\n" if step else ""
    return f"""/* model_test.c: {n} golden windows through {header_file}'s model; exit 0 when all match Keras. */
#include <math.h>
#include <stdio.h>
#include "{header_file}"

#define N_WINDOWS {n}
static const float inputs[N_WINDOWS][{P}_T][{P}_F] = {_nested(x_raw)};
static const float expected[N_WINDOWS]{yshape} = {_nested(y_raw)};
/* Keras's answers may differ from these by at most this much, per output, in raw units. */
static const float tolerance[{P}_OUT] = {_nested(raw_tol.astype(np.float32))};

static int check(const float *got, const float *want, int count, float *worst) {{
  int i, bad = 0;
  for (i = 0; i < count; ++i) {{
    float err = fabsf(got[i] - want[i]), ratio = err / tolerance[i % {P}_OUT];
    if (!(err <= tolerance[i % {P}_OUT])) ++bad; /* NaN fails too */
    if (ratio > *worst) *worst = ratio;
  }}
  return bad;
}}

int main(void) {{
  float y{yshape};
  float worst = 0.0f;
  int n, bad = 0;
{decl}  for (n = 0; n < N_WINDOWS; ++n) {{
    {p}_predict(inputs[n], y);
    bad += check({flat}, {exp}, {per}, &worst);
{step}  }}
  printf("{p}: %d windows, %d outputs beyond tolerance, worst %.3f of tolerance: %s\\n", N_WINDOWS, bad,
         (double)worst, bad ? "FAIL" : "PASS");
  return bad ? 1 : 0;
}}
"""
