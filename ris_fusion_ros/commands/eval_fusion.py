"""``ris-fusion eval fusion``: score fusion methods on a data set, write CSVs, report and plot."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ..core.config import load_yaml
from ..core.data import open_dataset
from ..core.errors import ConfigError
from ..core.evaluation.fusion_eval import evaluate_methods, write_csvs
from ..core.evaluation.metrics import SSIMConvention
from ..core.evaluation.report import markdown_table, write_report
from ..core.fusion import RuntimeOptions, create_method
from .arguments import add_data_args, add_runtime_args

CONFIG_KEYS = {"dataset", "data_root", "split", "methods", "save_fused", "ssim"}
SSIM_KEYS = {"window", "win_size", "combine", "data_range"}
DEFAULTS = {"dataset": "msrs", "methods": ["average", "max"], "save_fused": False}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_args(parser)
    parser.add_argument("--methods", help="comma-separated method names (default average,max)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--config", help="YAML file with an eval_fusion section (see config/evaluation.yaml)")
    parser.add_argument("--save-fused", action="store_true", help="also write fused images to OUT/fused/<method>/")
    parser.add_argument("--limit", type=int, help="only the first N pairs (quick checks)")
    parser.add_argument("--skip-bad-pairs", action="store_true",
                        help="record unreadable pairs in the report and go on instead of stopping")
    add_runtime_args(parser)
    parser.add_argument("--ssim-window", choices=("uniform", "gaussian"), help="SSIM window (default uniform)")
    parser.add_argument("--ssim-win-size", type=int, help="SSIM window size (default 7)")
    parser.add_argument("--ssim-combine", choices=("sum", "mean"),
                        help="sum or mean over the two sources (default sum)")
    parser.add_argument("--ssim-data-range", type=float,
                        help="SSIM data range (default 2.0 as in the CDDFuse evaluator as released; "
                             "255 is the textbook value)")


def _settings(args: argparse.Namespace) -> dict:
    """Command line over config file over built-in defaults."""
    settings: dict = {**DEFAULTS, "ssim": {}}
    if args.config:
        settings.update(load_yaml(args.config, "eval_fusion", CONFIG_KEYS))
    for key in ("dataset", "data_root", "split"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if args.methods is not None:
        settings["methods"] = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.save_fused:
        settings["save_fused"] = True
    ssim = dict(settings.get("ssim") or {})
    unknown = set(ssim) - SSIM_KEYS
    if unknown:
        raise ConfigError(f"unknown ssim key(s) {sorted(unknown)}; known: {sorted(SSIM_KEYS)}")
    for key in SSIM_KEYS:
        value = getattr(args, f"ssim_{key}")
        if value is not None:
            ssim[key] = value
    settings["ssim"] = ssim
    if isinstance(settings["methods"], str):
        settings["methods"] = [m.strip() for m in settings["methods"].split(",")]
    if not settings["methods"]:
        raise ConfigError("no fusion method given (--methods average,max)")
    return settings


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    ssim = SSIMConvention(**settings["ssim"])
    runtime = RuntimeOptions(args.backend, args.device, args.precision, args.threads)
    methods = [create_method(name, runtime) for name in settings["methods"]]
    dataset = open_dataset(settings["dataset"], data_root=settings.get("data_root"),
                           split=settings.get("split"), shared=args.shared_root)
    out = Path(args.out)
    evaluation = evaluate_methods(
        dataset, methods, ssim=ssim, limit=args.limit,
        fused_dir=out / "fused" if settings["save_fused"] else None,
        skip_bad_pairs=args.skip_bad_pairs, progress=not args.no_progress,
    )
    per_image, summary = write_csvs(evaluation, out)
    report = write_report(evaluation, out, command="ris-fusion " + shlex.join(sys.argv[1:]))
    print(markdown_table(evaluation.summary_rows))
    print(f"\n{len(evaluation.results[0].rows)} pairs; wrote {summary}, {per_image}, {report}")
    return 0
