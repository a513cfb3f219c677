"""What an exporter returns about the file it wrote."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def file_entry(path: Path) -> dict[str, Any]:
    """The manifest's file fields for a written file: name, size and sha256 of its bytes."""
    from edgernn.runtime.bundle import sha256_bytes

    data = Path(path).read_bytes()
    return {"file": Path(path).name, "bytes": len(data), "sha256": sha256_bytes(data)}


@dataclass
class Artifact:
    """One exported model file, before verification fills in its error."""

    file: str
    format: str
    variant: str = "float32"
    graph_form: str = ""
    graph_form_reason: str = ""
    batch: int | None = None  # None: free batch dimension
    ops: dict[str, int] = field(default_factory=dict)
    opset: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def entry(self) -> dict[str, Any]:
        """The manifest fields this exporter knows (hashes and errors are added by the bundle writer)."""
        out = {
            "file": self.file,
            "format": self.format,
            "variant": self.variant,
            "graph_form": self.graph_form,
            "graph_form_reason": self.graph_form_reason,
            "batch": "dynamic" if self.batch is None else self.batch,
            "ops": dict(sorted(self.ops.items())),
        }
        if self.opset is not None:
            out["opset"] = self.opset
        out.update(self.extra)
        return out
