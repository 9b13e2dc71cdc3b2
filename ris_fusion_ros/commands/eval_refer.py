"""``ris-fusion eval refer``: accuracy@0.5, mean IoU, no-match accuracy, per expression type.

Runs the referring step on an expression file with ground-truth ``boxes`` (or scores an earlier
``refer-batch`` run with ``--predictions``) and writes report.md, summary.json and
per_expression.csv to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from ..core.data import PairDataset, open_dataset
from ..core.errors import DataError
from ..core.evaluation.paired import compare_runs
from ..core.referring.attribution import image_labels
from ..core.referring.batch import score, write_scores
from ..core.referring.expressions import load_expressions
from .arguments import comma_list
from .refer_batch import add_source_arguments, predict


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser)
    parser.add_argument("--out", required=True, help="output folder (report.md, summary.json, per_expression.csv)")
    parser.add_argument("--predictions", help="score this predictions.json (from refer-batch) instead of running")
    parser.add_argument("--save-masks", action="store_true", help="also write OUT/masks/<index>.png")
    parser.add_argument("--compare-to", metavar="DIR",
                        help="an earlier eval refer output (DIR or DIR/per_expression.csv) on the same expressions: "
                             "add the expressions only one of the two runs gets right, with McNemar's exact p-value")
    parser.add_argument("--label-audit", metavar="DIRS",
                        help="comma-separated label folders under the data root annotated on other images (MSRS: "
                             "labels/ir,labels/vi): their objects that the ground truth lacks are added as instances "
                             "and expressions whose answer then changes are reported as ambiguous (accuracy on the "
                             "unambiguous ones and with either answer counted, next to the strict figure)")
    parser.add_argument("--gallery", type=int, default=24, metavar="N",
                        help="draw the first N wrong answers into OUT/errors.jpg (default 24; 0 = none)")


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
    dataset = open_dataset(args.dataset, args.data_root, args.split, shared=args.shared_root)
    sections = [paired_section(args.compare_to, rows) if args.compare_to else ""]
    audit_dirs = comma_list(args.label_audit)
    labels, extras = image_labels(dataset, [e["image"] for e in expressions], audit_dirs)
    if extras is not None:
        rows, audit = label_audit(args, dataset, audit_dirs, extras, expressions, predictions, rows)
        sections.append(audit)
    rows, why = error_attribution(dataset, labels, extras, expressions, predictions, rows, out, args.gallery)
    sections.append(why)
    print(write_scores(out, rows, summary, header, "\n\n".join(t for t in sections if t)))
    return 0


def error_attribution(dataset: PairDataset, labels: dict[str, np.ndarray], others: dict[str, np.ndarray] | None,
                      expressions: list[dict], predictions: list[dict], rows: list[dict], out: Path,
                      gallery: int) -> tuple[list[dict], str]:
    """Rows with ``missed`` / ``extra`` / ``cause``, the markdown of why the wrong answers are wrong, and
    OUT/errors.jpg with the first ``gallery`` of them; see core/referring/attribution and gallery.
    ``labels`` / ``others``: the labelled boxes and the objects only other annotations name, per pair."""
    from ..core.data import write_image
    from ..core.referring.attribution import attribution_markdown, attribution_rows, has_candidates
    from ..core.referring.gallery import error_gallery

    if has_candidates(predictions):
        rows = attribution_rows(rows, predictions, labels, dataset.class_names, others)
        text = attribution_markdown(rows)
    else:
        text = ("The predictions carry no instances (`candidates`, written by refer-batch since this version): "
                "no attribution of the wrong answers.")
    picture = error_gallery(dataset, rows, predictions, expressions, labels, gallery)
    if picture is not None:
        write_image(out / "errors.jpg", picture)
        shown = min(gallery, sum(not r["correct"] for r in rows))
        text += f"\n\nThe first {shown} wrong answers: ![wrong answers](errors.jpg)"
    return rows, text


def label_audit(args: argparse.Namespace, dataset: PairDataset, dirs: list[str], extras: dict[str, np.ndarray],
                expressions: list[dict], predictions: list[dict], rows: list[dict]) -> tuple[list[dict], str]:
    """Rows with ``ambiguous`` / ``correct_either`` and the audit's markdown (see core/referring/label_audit)."""
    from tqdm import tqdm

    from ..core.referring.label_audit import alternative_answers, audit_markdown, audit_rows

    progress = None if args.no_progress else (lambda items: tqdm(items, desc="label audit", unit="image"))
    alternatives = alternative_answers(dataset, expressions, extras, progress)
    rows = audit_rows(rows, predictions, alternatives)
    return rows, audit_markdown(rows, dirs)


def paired_section(reference: str, rows: list[dict]) -> str:
    """Markdown: this run against the ``--compare-to`` run, overall and per type."""
    path = Path(reference)
    path = path / "per_expression.csv" if path.is_dir() else path
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            before = list(csv.DictReader(handle))
        comparisons = compare_runs(before, rows)
    except OSError as exc:
        raise DataError(f"--compare-to: cannot read {path}: {exc}") from exc
    except (KeyError, ValueError) as exc:
        raise DataError(f"--compare-to {path}: {exc}") from exc
    lines = [f"Against {path} (same expressions): expressions only this run / only that run gets right, "
             "McNemar's exact p-value (p >= 0.05: the difference could be chance).", "",
             "| type | this run +/- | p |", "|---|---|---|"]
    for kind, c in comparisons.items():
        lines.append(f"| {'**overall**' if kind == 'overall' else kind} | +{c.wins} / -{c.losses} of {c.items} | "
                     f"{c.p_value:.3g} |")
    return "\n".join(lines)
