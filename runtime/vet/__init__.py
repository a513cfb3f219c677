"""File vetting: bounds-checked readers that walk an artifact before a native runtime parses it.

`onnx_proto.check_onnx` (protobuf wire format), `tflite_ops.custom_ops` and `tflite_graph.check_graph`
(flatbuffers), standard library only: a hostile file is refused with a typed error, not a segfault.
"""
