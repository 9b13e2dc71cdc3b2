"""``ris-fusion eval fusion``: score fusion methods on one or more data sets, with their speed.

One run gives everything a comparison needs: per-data-set CSVs, report and plot, the same
post-processing for every method, and the CPU latency of each method on one 640x480 frame
measured in the same process (``speed.csv``), plus ``benchmark.md`` gathering it all.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
from pathlib import Path

from ..core.config import load_yaml
from ..core.data import open_dataset
from ..core.errors import ConfigError
from ..core.evaluation.fusion_eval import FusionEvaluation, evaluate_methods, write_csvs
from ..core.evaluation.metrics import SSIMConvention
from ..core.evaluation.report import markdown_table, write_report
from ..core.evaluation.speed import SpeedResult, benchmark_frame, parse_size, speed_table, time_methods
from ..core.fusion import RuntimeOptions, create_method
from ..core.fusion.postprocess import POSTPROCESSING, check_postprocessing
from .arguments import add_data_args, add_runtime_args

CONFIG_KEYS = {"dataset", "data_root", "split", "methods", "save_fused", "ssim", "postprocessing", "speed_runs",
               "speed_size"}
SSIM_KEYS = {"window", "win_size", "combine", "data_range"}
DEFAULTS = {"dataset": "msrs", "methods": ["average", "max"], "save_fused": False, "postprocessing": "none",
            "speed_runs": 0, "speed_size": "640x480"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_args(parser)
    parser.add_argument("--methods", help="comma-separated method names (default average,max)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--config", help="YAML file with an eval_fusion section (see config/evaluation.yaml)")
    parser.add_argument("--save-fused", action="store_true", help="also write fused images to OUT/fused/<method>/")
    parser.add_argument("--fused-from", help="score fused images an earlier run wrote (DIR/fused/<method>/<id>.png "
                                             "or DIR/<method>/<id>.png) instead of fusing them again; "
                                             "missing ones are fused")
    parser.add_argument("--postprocessing", choices=POSTPROCESSING,
                        help="applied identically to every method's output: none (default) or rgb-minmax "
                             "(SeAFusion's saving step: global min-max stretch of the colour image)")
    parser.add_argument("--speed-runs", type=int,
                        help="also time each method on one frame this many times in the same run (default 0: off)")
    parser.add_argument("--speed-size", help="frame size for the speed measurement (default 640x480)")
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


def _split_list(value: str | list) -> list[str]:
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def _settings(args: argparse.Namespace) -> dict:
    """Command line over config file over built-in defaults."""
    settings: dict = {**DEFAULTS, "ssim": {}}
    if args.config:
        settings.update(load_yaml(args.config, "eval_fusion", CONFIG_KEYS))
    for key in ("dataset", "data_root", "split", "postprocessing", "speed_runs", "speed_size"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if args.methods is not None:
        settings["methods"] = args.methods
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
    settings["methods"] = _split_list(settings["methods"])
    if not settings["methods"]:
        raise ConfigError("no fusion method given (--methods average,max)")
    settings["datasets"] = _split_list(settings["dataset"])
    if len(settings["datasets"]) > 1 and settings.get("data_root"):
        raise ConfigError("--data-root names one folder; give one --dataset with it")
    settings["splits"] = _splits(settings.get("split"), settings["datasets"])
    check_postprocessing(settings["postprocessing"])
    if int(settings["speed_runs"]) < 0:
        raise ConfigError("speed_runs must be >= 0")
    return settings


def _splits(split: str | None, datasets: list[str]) -> dict[str, str | None]:
    """One split for one data set, or ``name=split`` entries (comma-separated) for several."""
    if not split:
        return dict.fromkeys(datasets)
    if len(datasets) == 1 and "=" not in split:
        return {datasets[0]: split}
    result: dict[str, str | None] = dict.fromkeys(datasets)
    for item in _split_list(split):
        name, sep, value = item.partition("=")
        if not sep or name not in result:
            raise ConfigError(f"with several data sets give splits as dataset=split (got '{item}' for "
                              f"data sets {', '.join(datasets)})")
        result[name] = value
    return result


def _fused_source(path: str | None, dataset: str, several: bool) -> Path | None:
    """Where earlier fused images are: DIR/fused/<method>, DIR/<dataset>/fused/<method> or DIR/<method>."""
    if not path:
        return None
    root = Path(path)
    if not root.is_dir():
        raise ConfigError(f"--fused-from folder not found: {root}")
    for candidate in ((root / dataset / "fused") if several else None, root / "fused"):
        if candidate is not None and candidate.is_dir():
            return candidate
    return root


def _write_speed(results: list[SpeedResult], out: Path, header: str) -> str:
    rows = [r.as_row() for r in results]
    with (out / "speed.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return f"{header}\n\n{speed_table(results)}"


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    ssim = SSIMConvention(**settings["ssim"])
    runtime = RuntimeOptions(args.backend, args.device, args.precision, args.threads)
    methods = [create_method(name, runtime) for name in settings["methods"]]
    out = Path(args.out)
    several = len(settings["datasets"]) > 1
    command = "ris-fusion " + shlex.join(sys.argv[1:])
    evaluations: list[tuple[FusionEvaluation, Path]] = []
    for name in settings["datasets"]:
        dataset = open_dataset(name, data_root=settings.get("data_root"), split=settings["splits"][name],
                               shared=args.shared_root)
        target = out / name if several else out
        evaluation = evaluate_methods(
            dataset, methods, ssim=ssim, limit=args.limit,
            fused_dir=target / "fused" if settings["save_fused"] else None,
            skip_bad_pairs=args.skip_bad_pairs, progress=not args.no_progress,
            postprocessing=settings["postprocessing"], fused_from=_fused_source(args.fused_from, name, several),
        )
        write_csvs(evaluation, target)
        report = write_report(evaluation, target, command=command)
        print(f"\n## {dataset.spec.name} ({len(evaluation.results[0].rows)} pairs; report {report})\n")
        print(markdown_table(evaluation.summary_rows))
        evaluations.append((evaluation, target))
    speed_text = ""
    if int(settings["speed_runs"]) > 0:
        width, height = parse_size(str(settings["speed_size"]))
        ir, vis, source = benchmark_frame(width, height, args.shared_root)
        results = time_methods(methods, ir, vis, warmup=2, runs=int(settings["speed_runs"]))
        header = (f"Speed: {source}; {settings['speed_runs']} timed `fuse` calls per method after 2 untimed, "
                  f"same process as the evaluation; backend {args.backend} on {args.device}, "
                  f"{args.threads} threads; colour conversion included.")
        out.mkdir(parents=True, exist_ok=True)
        speed_text = _write_speed(results, out, header)
        print("\n" + speed_text)
    if several or speed_text:
        _write_benchmark(out / "benchmark.md", evaluations, speed_text, settings, command)
        print(f"\nwrote {out / 'benchmark.md'}")
    return 0


def _write_benchmark(path: Path, evaluations: list[tuple[FusionEvaluation, Path]], speed_text: str,
                     settings: dict, command: str) -> None:
    """All data sets' summary tables and the speed table on one page."""
    lines = ["# Fusion benchmark", "", f"- Command: `{command}`",
             f"- Post-processing applied to every method's output: `{settings['postprocessing']}`",
             f"- SSIM: {evaluations[0][0].ssim.describe()}" if evaluations else "", ""]
    for evaluation, target in evaluations:
        n_pairs = len(evaluation.results[0].rows)
        lines += [f"## {evaluation.dataset.spec.name} ({n_pairs} pairs, `{target}`)", "",
                  markdown_table(evaluation.summary_rows), ""]
    if speed_text:
        lines += ["## Speed", "", speed_text, ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
