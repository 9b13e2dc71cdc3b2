"""``ris-fusion eval control``: measure the fusion network's inclination and region control."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.data import open_dataset
from ..core.evaluation.control_eval import evaluate_control
from ..core.fusion import RuntimeOptions, create_method
from .arguments import add_data_args, add_runtime_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_args(parser, "msrs")
    parser.add_argument("--method", default="risfusenet", help="fusion method taking a control map")
    parser.add_argument("--limit", type=int, help="only the first N pairs")
    parser.add_argument("--out", help="also write control.md here")
    parser.add_argument("--no-text", action="store_true", help="skip the text-gate measurement")
    add_runtime_args(parser)


def run(args: argparse.Namespace) -> int:
    method = create_method(args.method, RuntimeOptions(args.backend, args.device, args.precision, args.threads))
    dataset = open_dataset(args.dataset, data_root=args.data_root, split=args.split, shared=args.shared_root)
    prompts = None
    if "text" in method.conditioning and not args.no_text:
        from ..core.fusion.ours.text_prompts import VALIDATION_PROMPTS
        from ..core.text.encoder import encode

        prompts = {label: encode(list(phrases)) for label, phrases in VALIDATION_PROMPTS.items()}
    report = evaluate_control(method, dataset, limit=args.limit, progress=not args.no_progress,
                              text_prompts=prompts)
    text = f"# Control of {method.name} on {dataset.spec.name} ({report.pairs} pairs)\n\n{report.markdown()}\n"
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "control.md").write_text(text, encoding="utf-8")
    return 0 if report.monotonic else 1
