"""C text of the activations a model uses (only those: an unused static function fails -Werror).

sigmoid and tanh go through `f_exp`, a branch-free expf (Cephes' polynomial, about 1 ulp) so the
loops over a gate vectorize; measured against Keras by every export's parity proof. The rarer
activations call <math.h> (expm1f, log1pf, expf), exactly as Keras 3 defines them (hard_sigmoid is
relu6(x + 3) / 6, not Keras 2's 0.2x + 0.5).
"""

from __future__ import annotations

from collections.abc import Iterable

F_EXP = """\
/* Inlined into the gate loops so they vectorize (GCC -O2); at -Os left to the compiler, for flash. */
#if defined(__GNUC__) && !defined(__OPTIMIZE_SIZE__)
#define EDGERNN_INLINE __attribute__((always_inline)) static inline
#else
#define EDGERNN_INLINE static
#endif

/* expf to about 1 ulp on [-87, 88], branch-free so that loops over it vectorize. */
EDGERNN_INLINE float f_exp(float x) {
  float n, r, p, s;
  int e;
  /* the clamp as arithmetic: a ?: here stops GCC vectorizing at -O2 (it must not move a trapping compare) */
  x = x + (float)(x > 88.0f) * (88.0f - x) + (float)(x < -87.0f) * (-87.0f - x);
  n = (x * 1.44269504f + 12582912.0f) - 12582912.0f; /* round to nearest */
  r = x - n * 0.693359375f + n * 2.12194440e-4f;
  p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  e = ((int)n + 127) << 23;
  memcpy(&s, &e, sizeof s);
  return p * s;
}
"""

SCALAR = {
    "tanh": "EDGERNN_INLINE float f_tanh(float x) {\n"
    "  x = x + (float)(x > 9.0f) * (9.0f - x) + (float)(x < -9.0f) * (-9.0f - x);\n"
    "  return 1.0f - 2.0f / (f_exp(2.0f * x) + 1.0f);\n}\n",
    "sigmoid": "EDGERNN_INLINE float f_sigmoid(float x) { return 1.0f / (1.0f + f_exp(-x)); }\n",
    "hard_sigmoid": "static float f_hard_sigmoid(float x) {\n  x = (x + 3.0f) / 6.0f;\n"
    "  return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x);\n}\n",
    "relu": "static float f_relu(float x) { return x > 0.0f ? x : 0.0f; }\n",
    "relu6": "static float f_relu6(float x) { return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x); }\n",
    "elu": "static float f_elu(float x) { return x > 0.0f ? x : expm1f(x); }\n",
    "selu": "static float f_selu(float x) {\n"
    "  return 1.05070098735548f * (x > 0.0f ? x : 1.67326324235437f * expm1f(x));\n}\n",
    "softplus": "static float f_softplus(float x) {\n  return (x > 0.0f ? x : 0.0f) + log1pf(expf(-fabsf(x)));\n}\n",
    "softsign": "static float f_softsign(float x) { return x / (1.0f + fabsf(x)); }\n",
    "silu": "EDGERNN_INLINE float f_silu(float x) { return x / (1.0f + f_exp(-x)); }\n",
    "swish": "EDGERNN_INLINE float f_swish(float x) { return x / (1.0f + f_exp(-x)); }\n",
    "exponential": "static float f_exponential(float x) { return expf(x); }\n",
}
SOFTMAX = """\
static void v_softmax(float *v, int n) {
  int j;
  float top = v[0], sum = 0.0f;
  for (j = 1; j < n; ++j) top = v[j] > top ? v[j] : top;
  for (j = 0; j < n; ++j) {
    v[j] = expf(v[j] - top);
    sum += v[j];
  }
  for (j = 0; j < n; ++j) v[j] /= sum;
}
"""
USES_EXP = {"tanh", "sigmoid", "silu", "swish"}
KNOWN = {"linear", "softmax", *SCALAR}


def helpers(used: Iterable[str]) -> str:
    """The C functions of the activations in `used` (names Keras 3 gives them), f_exp first when needed."""
    used = set(used)
    parts = [F_EXP] if used & USES_EXP else []
    parts += [SCALAR[name] for name in sorted(used) if name in SCALAR]
    parts += [SOFTMAX] if "softmax" in used else []
    return "\n".join(parts)
