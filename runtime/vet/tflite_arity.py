"""How many inputs and outputs each TFLite builtin takes: checked before an interpreter meets the op.

LiteRT's kernels index an op's inputs without always checking their count: an opcode index edited so
that a one-input LOGISTIC becomes a four-input STRIDED_SLICE segfaulted (found by fuzz/structure.py).
Ops outside this table are refused: edgernn's exporters write only these (the table grows with them).
Codes follow tensorflow/compiler/mlir/lite/schema/schema.fbs; None means no upper bound.
"""

from __future__ import annotations

INPUTS: dict[int, tuple[int, int | None]] = {
    0: (2, 2),  # ADD
    1: (1, 1),  # AVERAGE_POOL_2D
    2: (1, None),  # CONCATENATION
    3: (2, 3),  # CONV_2D
    4: (2, 3),  # DEPTHWISE_CONV_2D
    6: (1, 1),  # DEQUANTIZE
    7: (2, 2),  # EMBEDDING_LOOKUP
    8: (1, 1),  # FLOOR
    9: (2, 3),  # FULLY_CONNECTED
    14: (1, 1),  # LOGISTIC
    17: (1, 1),  # MAX_POOL_2D
    18: (2, 2),  # MUL
    19: (1, 1),  # RELU
    20: (1, 1),  # RELU_N1_TO_1
    21: (1, 1),  # RELU6
    22: (1, 2),  # RESHAPE
    25: (1, 1),  # SOFTMAX
    28: (1, 1),  # TANH
    34: (2, 2),  # PAD
    36: (2, 2),  # GATHER
    39: (2, 2),  # TRANSPOSE
    40: (2, 2),  # MEAN
    41: (2, 2),  # SUB
    42: (2, 2),  # DIV
    43: (1, 1),  # SQUEEZE
    44: (24, 28),  # UNIDIRECTIONAL_SEQUENCE_LSTM
    45: (4, 4),  # STRIDED_SLICE
    47: (1, 1),  # EXP
    49: (2, 2),  # SPLIT
    53: (1, 1),  # CAST
    54: (2, 2),  # PRELU
    55: (2, 2),  # MAXIMUM
    56: (2, 2),  # ARG_MAX
    57: (2, 2),  # MINIMUM
    58: (2, 2),  # LESS
    59: (1, 1),  # NEG
    60: (3, 3),  # PADV2
    61: (2, 2),  # GREATER
    62: (2, 2),  # GREATER_EQUAL
    63: (2, 2),  # LESS_EQUAL
    64: (3, 3),  # SELECT
    65: (3, 3),  # SLICE
    66: (1, 1),  # SIN
    69: (2, 2),  # TILE
    70: (2, 2),  # EXPAND_DIMS
    71: (2, 2),  # EQUAL
    72: (2, 2),  # NOT_EQUAL
    73: (1, 1),  # LOG
    74: (2, 2),  # SUM
    75: (1, 1),  # SQRT
    76: (1, 1),  # RSQRT
    77: (1, 1),  # SHAPE
    78: (2, 2),  # POW
    82: (2, 2),  # REDUCE_MAX
    83: (1, None),  # PACK
    84: (2, 2),  # LOGICAL_OR
    86: (2, 2),  # LOGICAL_AND
    87: (1, 1),  # LOGICAL_NOT
    88: (1, 1),  # UNPACK
    89: (2, 2),  # REDUCE_MIN
    90: (2, 2),  # FLOOR_DIV
    92: (1, 1),  # SQUARE
    93: (1, 1),  # ZEROS_LIKE
    94: (2, 2),  # FILL
    95: (2, 2),  # FLOOR_MOD
    96: (3, 3),  # RANGE
    98: (1, 1),  # LEAKY_RELU
    99: (2, 2),  # SQUARED_DIFFERENCE
    101: (1, 1),  # ABS
    102: (3, 3),  # SPLIT_V
    104: (1, 1),  # CEIL
    105: (2, 2),  # REVERSE_V2
    107: (2, 2),  # GATHER_ND
    108: (1, 1),  # COS
    111: (1, 1),  # ELU
    114: (1, 1),  # QUANTIZE
    116: (1, 1),  # ROUND
    117: (1, 1),  # HARD_SWISH
    119: (0, None),  # WHILE
    123: (3, 3),  # SELECT_V2
    126: (2, 2),  # BATCH_MATMUL
    128: (2, 2),  # CUMSUM
    130: (2, 2),  # BROADCAST_TO
    132: (2, 3),  # CONV_3D
    150: (1, 1),  # GELU
    158: (1, 1),  # SIGN
}
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
