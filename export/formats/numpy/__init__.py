"""numpy: the weights and layer list the numpy backend runs (convert.py), and its step form."""

from ..base import Format
from . import convert, step

FORMAT = Format(name="numpy", forms=convert.forms, write=convert.write, step_writer=step.write_step)
