"""C: model.c + model.h + model_test.c for microcontrollers (source.py, kernels.py, activations.py,
testprog.py), proven on the host (convert.py) and measured for a Cortex-M4 (mcu.py)."""

from ..base import Format
from . import convert

FORMAT = Format(
    name="c",
    forms=convert.forms,
    write=convert.write,
    variants={"dynamic": convert.write_dynamic},
    needs_target=True,
    streams_in_model=True,
    unfolded=True,
)
