"""The tensor names every ONNX window model has: input `input`, output `output`, batch dim `batch`."""

INPUT_NAME, OUTPUT_NAME, BATCH_DIM = "input", "output", "batch"
