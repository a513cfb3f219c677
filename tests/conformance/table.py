"""Print the conformance table: case, source, and the result per format x backend (and step models).

.venv/bin/python tests/conformance/table.py [--out DIR] [CASE ...]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `conformance` as a package, as pytest sees it

from conformance.cases import BY_ID, CASES  # noqa: E402
from conformance.run import pairs, run_case  # noqa: E402


def short(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help="case ids (default: all)")
    parser.add_argument("--out", help="where bundles are written (default: a temp folder)")
    args = parser.parse_args(argv)
    root = Path(args.out or tempfile.mkdtemp(prefix="edgernn-conformance-"))
    cols = [f"{f}/{b}" for f, b in pairs()]
    print("| case | source | " + " | ".join(cols) + " | step models |")
    print("|" + "---|" * (len(cols) + 3))
    for case in [BY_ID[c] for c in args.cases] if args.cases else CASES:
        out = run_case(case, root)
        if out.refused:
            cells = [f"refused: {short(out.refused)} (peer: {case.peer})"] + [""] * len(cols)
        else:
            cells = [_cell(out.results.get((f, "model", b), "")) for f, b in pairs()]
            steps = [f"{f}/{b} {r}" for (f, role, b), r in sorted(out.results.items()) if role == "step"]
            cells.append(", ".join(steps) or "-")
        print(f"| {case.id} | {case.source} | " + " | ".join(cells) + " |", flush=True)
    return 0


FORM_PREFIX = re.compile(r"model\.\w+: no graph form passed\. [\w]+: ")


def _cell(result: str) -> str:
    """A refusal's root reason (the form loop's prefix dropped), shortened; a pass as it is."""
    return short(FORM_PREFIX.sub("", result), 70) if result.startswith("refused") else result


if __name__ == "__main__":
    sys.exit(main())
