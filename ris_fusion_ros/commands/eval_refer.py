"""``ris-fusion eval refer``: accuracy@0.5, mean IoU, no-match accuracy, per expression type.

Runs the referring step on an expression file with ground-truth ``boxes`` (or scores an earlier
``refer-batch`` run with ``--predictions``) and writes report.md, summary.json and
per_expression.csv to ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..core.errors import DataError
from ..core.referring.batch import score, write_scores
from ..core.referring.expressions import load_expressions
from .refer_batch import add_source_arguments, predict


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser)
    parser.add_argument("--out", required=True, help="output folder (report.md, summary.json, per_expression.csv)")
    parser.add_argument("--predictions", help="score this predictions.json (from refer-batch) instead of running")
    parser.add_argument("--save-masks", action="store_true", help="also write OUT/masks/<index>.png")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.predictions:
        expressions = load_expressions(args.expressions)
        if args.limit is not None:
            expressions = expressions[:args.limit]
        try:
            predictions = json.loads(Path(args.predictions).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"cannot read predictions {args.predictions}: {exc}") from exc
        description = f"{len(expressions)} expressions, predictions from {args.predictions}"
    else:
        expressions, predictions, description = predict(args, out if args.save_masks else None)
        out.mkdir(parents=True, exist_ok=True)
        (out / "predictions.json").write_text(json.dumps(predictions, indent=1), encoding="utf-8")
    rows, summary = score(expressions, predictions)
    header = f"Expressions: {args.expressions}; {description}."
    print(write_scores(out, rows, summary, header))
    return 0
