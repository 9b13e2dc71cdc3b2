"""``ris-fusion eval refer-folds``: the out-of-fold referring score of a detector recipe.

Two fold models (each trained on one fold of the training images, ``train detector --split FOLD``) answer
the expressions of the *other* fold's images through ``eval refer`` (same operating-point options); the
pooled answers are scored per type and weighed to a reference set's mix of types
(:mod:`..core.evaluation.cross_fold`). This is how a change is chosen before the one held-out measurement.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from .arguments import comma_list
from .refer_batch import add_source_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser, expressions_help="comma-separated expression files (JSON lists of {image, text, "
                                                  "boxes, type}) on the training images; pooled, then split by fold",
                         detector_help="comma-separated: the model trained on each --folds split, in the same order "
                                       "(each may be an ensemble joined by +)")
    parser.add_argument("--folds", required=True, help="comma-separated split files: the two folds of the training "
                                                       "images")
    parser.add_argument("--weigh-to", metavar="FILE",
                        help="reference expression file whose mix of types (and of no-matches naming a class of the "
                             "data set) weighs the score: the held-out set; only its types and texts are read")
    parser.add_argument("--out", required=True, help="output folder (report.md, summary.json, per_expression.csv, "
                                                     "one eval refer folder per fold)")
    parser.add_argument("--compare-to", metavar="DIR",
                        help="an earlier refer-folds output on the same expressions and folds: the expressions only "
                             "one of the two runs gets right, with McNemar's exact p-value")
    parser.add_argument("--gallery", type=int, default=0, metavar="N",
                        help="draw the first N wrong answers of each fold into its errors.jpg (default 0)")


def run(args: argparse.Namespace) -> int:
    from ..core.data import open_dataset, read_split
    from ..core.errors import ConfigError
    from ..core.evaluation.cross_fold import Outcome, TypeMix, cross_fold_score, names_a_class, score_markdown
    from ..core.referring.expressions import load_expressions
    from ..core.referring.parser import Parser
    from . import eval_refer

    folds, detectors = comma_list(args.folds), comma_list(args.detector)
    if len(folds) != 2 or len(detectors) != 2:
        raise ConfigError(f"--folds and --detector need two entries each (a model per fold), got {len(folds)} and "
                          f"{len(detectors)}")
    ids = [set(read_split(Path(f))) for f in folds]
    if ids[0] & ids[1]:
        raise ConfigError(f"the folds share {len(ids[0] & ids[1])} images: a model would answer on its own images")
    pooled = [e for path in comma_list(args.expressions) for e in load_expressions(path)]
    classes = open_dataset(args.dataset, args.data_root, shared=args.shared_root).class_names
    parser = Parser()

    def named(text: str) -> tuple[str, ...]:
        return parser.parse(text).named_classes()

    out = Path(args.out)
    rows: list[dict] = []
    answered_by = list(zip(folds, reversed(detectors), strict=True))  # each fold by the other fold's model
    for index, (fold, other_model) in enumerate(answered_by):
        mine = [e for e in pooled if e["image"] in ids[index]]
        if not mine:
            raise ConfigError(f"no expression of {args.expressions} is on an image of fold {fold}")
        folder = out / f"fold{index + 1}_{Path(fold).stem}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "expressions.json").write_text(json.dumps(mine), encoding="utf-8")
        fold_args = argparse.Namespace(**{**vars(args), "expressions": str(folder / "expressions.json"),
                                          "detector": other_model, "out": str(folder), "split": None,
                                          "compare_to": None, "label_audit": None, "predictions": None,
                                          "save_masks": False, "limit": None})
        eval_refer.run(fold_args)
        with (folder / "per_expression.csv").open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                row["fold"] = Path(fold).stem
                row["names_a_class"] = names_a_class(row["text"], classes, named)
                rows.append(row)
    left_out = len(pooled) - len(rows)
    mix = None
    if args.weigh_to:
        mix = TypeMix.of(load_expressions(args.weigh_to), classes, named)
    outcomes = [Outcome(r["type"], r["names_a_class"], r["correct"] == "True") for r in rows]
    score = cross_fold_score(outcomes, mix)
    with (out / "per_expression.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = {"weighted": score.weighted, "raw": score.raw, "per_type": score.per_type, "counts": score.counts,
               "no_match_in_class": score.no_match_in_class, "no_match_other": score.no_match_other,
               "expressions": len(rows), "left_out": left_out, "folds": folds, "detectors": detectors,
               "weigh_to": args.weigh_to}
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    header = (f"# Out-of-fold referring\n\n{len(rows)} expressions of {args.expressions} on the images of {len(folds)} "
              f"folds ({left_out} on other images left out), each fold answered by the model trained on the other: "
              + ", ".join(f"{fold} by {model}" for fold, model in answered_by) + "."
              + (f" Weighed to the types of {args.weigh_to}." if mix else ""))
    sections = [header, score_markdown(score, mix)]
    if args.compare_to:
        sections.append(eval_refer.paired_section(args.compare_to, rows))
    text = "\n\n".join(sections) + "\n"
    (out / "report.md").write_text(text, encoding="utf-8")
    print(text)
    return 0
