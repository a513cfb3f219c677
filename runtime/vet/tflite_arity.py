"""How many inputs and outputs each TFLite builtin takes: checked before an interpreter meets the op.

LiteRT's kernels index an op's inputs without always checking their count: an opcode index edited so
that a one-input LOGISTIC becomes a four-input STRIDED_SLICE segfaulted (found by fuzz/structure.py).
Ops outside this table are refused: edgernn's exporters write only these (the table grows with them).
Codes follow tensorflow/compiler/mlir/lite/schema/schema.fbs.
"""

from __future__ import annotations

# (name, code, min inputs, max inputs; None: any). A literal: parsing a text table cost ~50 us of cold start.
# fmt: off
_TABLE = (
    ("ADD", 0, 2, 2), ("AVERAGE_POOL_2D", 1, 1, 1), ("CONCATENATION", 2, 1, None), ("CONV_2D", 3, 2, 3),
    ("DEPTHWISE_CONV_2D", 4, 2, 3), ("DEQUANTIZE", 6, 1, 1), ("EMBEDDING_LOOKUP", 7, 2, 2), ("FLOOR", 8, 1, 1),
    ("FULLY_CONNECTED", 9, 2, 3), ("LOGISTIC", 14, 1, 1), ("L2_NORMALIZATION", 11, 1, 1), ("MAX_POOL_2D", 17, 1, 1),
    ("MUL", 18, 2, 2), ("RELU", 19, 1, 1), ("RELU_N1_TO_1", 20, 1, 1), ("RELU6", 21, 1, 1), ("RESHAPE", 22, 1, 2),
    ("SOFTMAX", 25, 1, 1), ("TANH", 28, 1, 1), ("PAD", 34, 2, 2), ("GATHER", 36, 2, 2),
    ("BATCH_TO_SPACE_ND", 37, 3, 3), ("SPACE_TO_BATCH_ND", 38, 3, 3), ("TRANSPOSE", 39, 2, 2), ("MEAN", 40, 2, 2),
    ("SUB", 41, 2, 2), ("DIV", 42, 2, 2), ("SQUEEZE", 43, 1, 1), ("UNIDIRECTIONAL_SEQUENCE_LSTM", 44, 24, 28),
    ("STRIDED_SLICE", 45, 4, 4), ("EXP", 47, 1, 1), ("SPLIT", 49, 2, 2), ("CAST", 53, 1, 1), ("PRELU", 54, 2, 2),
    ("MAXIMUM", 55, 2, 2), ("ARG_MAX", 56, 2, 2), ("MINIMUM", 57, 2, 2), ("LESS", 58, 2, 2), ("NEG", 59, 1, 1),
    ("PADV2", 60, 3, 3), ("GREATER", 61, 2, 2), ("GREATER_EQUAL", 62, 2, 2), ("LESS_EQUAL", 63, 2, 2),
    ("SELECT", 64, 3, 3), ("SLICE", 65, 3, 3), ("SIN", 66, 1, 1), ("TILE", 69, 2, 2), ("EXPAND_DIMS", 70, 2, 2),
    ("EQUAL", 71, 2, 2), ("NOT_EQUAL", 72, 2, 2), ("LOG", 73, 1, 1), ("SUM", 74, 2, 2), ("SQRT", 75, 1, 1),
    ("RSQRT", 76, 1, 1), ("SHAPE", 77, 1, 1), ("POW", 78, 2, 2), ("REDUCE_PROD", 81, 2, 2), ("REDUCE_MAX", 82, 2, 2),
    ("PACK", 83, 1, None), ("LOGICAL_OR", 84, 2, 2), ("LOGICAL_AND", 86, 2, 2), ("LOGICAL_NOT", 87, 1, 1),
    ("UNPACK", 88, 1, 1), ("REDUCE_MIN", 89, 2, 2), ("FLOOR_DIV", 90, 2, 2), ("REDUCE_ANY", 91, 2, 2),
    ("SQUARE", 92, 1, 1), ("ZEROS_LIKE", 93, 1, 1), ("FILL", 94, 2, 2), ("FLOOR_MOD", 95, 2, 2), ("RANGE", 96, 3, 3),
    ("LEAKY_RELU", 98, 1, 1), ("SQUARED_DIFFERENCE", 99, 2, 2), ("MIRROR_PAD", 100, 2, 2), ("ABS", 101, 1, 1),
    ("SPLIT_V", 102, 3, 3), ("CEIL", 104, 1, 1), ("REVERSE_V2", 105, 2, 2), ("GATHER_ND", 107, 2, 2),
    ("COS", 108, 1, 1), ("ELU", 111, 1, 1), ("QUANTIZE", 114, 1, 1), ("ROUND", 116, 1, 1), ("HARD_SWISH", 117, 1, 1),
    ("WHILE", 119, 0, None), ("SELECT_V2", 123, 3, 3), ("BATCH_MATMUL", 126, 2, 2), ("CUMSUM", 128, 2, 2),
    ("BROADCAST_TO", 130, 2, 2), ("CONV_3D", 132, 2, 3), ("GELU", 150, 1, 1), ("SIGN", 158, 1, 1),
)
# fmt: on
INPUTS: dict[int, tuple[int, int | None]] = {code: (low, high) for _, code, low, high in _TABLE}
MANY_OUTPUTS = {49, 88, 102}  # SPLIT, UNPACK, SPLIT_V: as many as their options count (checked there)
WHILE = 119


def arity_problem(builtin: int, inputs: int, outputs: int) -> str:
    """Why an op's tensor lists do not fit its builtin ('' when they do)."""
    if builtin not in INPUTS:
        return f"builtin op {builtin} is not one edgernn's exporters write"
    low, high = INPUTS[builtin]
    if inputs < low or (high is not None and inputs > high):
        return f"builtin {builtin} takes {low}..{high if high is not None else 'any'} inputs, got {inputs}"
    if builtin == WHILE:
        return "" if inputs == outputs else f"WHILE has {inputs} inputs but {outputs} outputs"
    if builtin in MANY_OUTPUTS:
        return "" if outputs >= 1 else f"builtin {builtin} has no outputs"
    return "" if outputs == 1 else f"builtin {builtin} has {outputs} outputs, expected 1"
