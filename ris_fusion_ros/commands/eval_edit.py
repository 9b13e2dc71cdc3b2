"""``ris-fusion eval edit``: TeRF-Table-2-style results of the text-commanded edits."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from ..core.data import open_dataset
from ..core.editing.evaluation import evaluate_edits, evaluate_region_edits
from ..core.editing.validation import VALIDATION_FILE, score_commands
from ..core.fusion import RuntimeOptions, create_method
from .arguments import add_data_args, add_runtime_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_args(parser, "roadscene")
    parser.add_argument("--method", default="risfusenet", help="fusion method taking a control map")
    parser.add_argument("--limit", type=int, help="only the first N pairs")
    parser.add_argument("--sigma", type=float, default=25.0, help="Gaussian noise σ (0-255) on the visible image")
    parser.add_argument("--no-noise", action="store_true", help="skip the denoising rows")
    parser.add_argument("--region-dataset", default="msrs", help="labelled set for region edits (default msrs)")
    parser.add_argument("--region-limit", type=int, default=40, help="pairs for the region part (default 40; 0 skips)")
    parser.add_argument("--out", help="write edit.md and edit_summary.csv here")
    add_runtime_args(parser)


def run(args: argparse.Namespace) -> int:
    method = create_method(args.method, RuntimeOptions(args.backend, args.device, args.precision, args.threads))
    dataset = open_dataset(args.dataset, data_root=args.data_root, split=args.split, shared=args.shared_root)
    result = evaluate_edits(method, dataset, limit=args.limit, sigma=args.sigma, noise=not args.no_noise,
                            progress=not args.no_progress)
    if args.region_limit:
        region = open_dataset(args.region_dataset, shared=args.shared_root)
        evaluate_region_edits(method, region, result, limit=args.region_limit, progress=not args.no_progress)
    parse = [score_commands(path) for path in (VALIDATION_FILE, VALIDATION_FILE.with_name("validation_2.json"))]
    correct, total = sum(s.correct for s in parse), sum(s.total for s in parse)
    text = (f"# Text-commanded edits: {dataset.spec.name}\n\n{result.markdown(dataset.spec.name, method.name)}\n\n"
            f"Command parser on the independent validation sets (data/edit_commands): {correct}/{total} parsed "
            f"exactly as written down ({100.0 * correct / total:.1f} %).\n")
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "edit.md").write_text(text, encoding="utf-8")
        with (out / "edit_summary.csv").open("w", newline="") as handle:
            rows = [{"setting": s, **result.mean(s)} for s in result.rows]
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return 0 if result.all_directions_hold else 1
