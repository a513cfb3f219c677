"""The isolated child's side of `edgernn.runtime.isolate`: limits, the same manifest, each artifact's golden run.

Started as `python -I -c CHILD REQUEST_JSON`; prints a 'run FILE on BACKEND' line before each artifact
(so the parent can name the one that killed it) and one JSON line at the end.
"""

from __future__ import annotations

import json
import sys

from . import errors
from .errors import EdgeRNNError


def child() -> None:
    """The child's side: limits, the same manifest, each artifact's golden run; one JSON line at the end."""
    import resource

    request = json.loads(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (request["memory"], request["memory"]))
    resource.setrlimit(resource.RLIMIT_CPU, (request["cpu"], request["cpu"] + 2))  # SIGXCPU, then SIGKILL
    try:
        _run(request)
        print(json.dumps({"error": None}), flush=True)
    except MemoryError:
        print(json.dumps({"error": "ModelLoadError", "message": "the memory limit was reached"}), flush=True)
    except EdgeRNNError as exc:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)[:2000]}), flush=True)


def _run(request: dict) -> None:
    from .bundle import Bundle
    from .manifest import STEP_ROLE
    from .stream import window_outputs

    bundle = Bundle.open(request["path"])
    if bundle.manifest.text_sha256 != request["sha256"]:
        raise errors.IntegrityError(f"{request['path']}: manifest.json changed while the bundle was being loaded.")
    golden = bundle.golden()
    by_file = {a.file: a for a in bundle.manifest.entries}
    for backend, file in request["pairs"]:
        art = by_file[file]
        print(f"run {file} on {backend}", flush=True)
        try:
            if art.role == STEP_ROLE:
                window_outputs(bundle.step_model(backend, artifact=art))(golden["inputs"][:2])
            else:
                bundle.predictor(backend, artifact=art).run_model_units(golden["inputs"])
        except (errors.IntegrityError, errors.ManifestError):
            raise
        except EdgeRNNError:  # a typed refusal: the parent meets it again and reports it (a failed row)
            continue
