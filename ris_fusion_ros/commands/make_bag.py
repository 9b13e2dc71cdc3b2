"""``ris-fusion make-bag``: a realistic thermal + RGB test bag from image pairs (see core.pipeline.bag_maker)."""

from __future__ import annotations

import argparse
import shlex

from tqdm import tqdm

from ..core.data.datasets import open_dataset
from ..core.errors import ConfigError
from ..core.pipeline.bag_maker import MANIFEST, BagPlan, make_bag
from ..core.pipeline.text import parse_text_at
from .arguments import add_data_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_args(parser, dataset_default="msrs")
    parser.add_argument("--out", required=True, help="bag folder to create (must not exist)")
    parser.add_argument("--frames", type=int, default=300, help="RGB frames (pairs are cycled; default 300)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N pairs of the data set")
    parser.add_argument("--rate", type=float, default=30.0, help="camera rate in Hz (default 30)")
    parser.add_argument("--thermal-offset", type=float, default=0.120,
                        help="thermal clock minus RGB clock, seconds (default 0.120)")
    parser.add_argument("--jitter-ms", type=float, default=2.0, help="stamp jitter sigma in ms (default 2)")
    parser.add_argument("--drop-rgb", type=float, default=0.02, help="RGB drop probability (default 0.02)")
    parser.add_argument("--drop-thermal", type=float, default=0.03, help="thermal drop probability (default 0.03)")
    parser.add_argument("--text-at", action="append", default=[], metavar='T:"text"',
                        help="a /referring_text message T seconds after the start (repeatable)")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap", help="default mcap")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    dataset = open_dataset(args.dataset, args.data_root, args.split, getattr(args, "shared_root", None))
    n = len(dataset) if not args.limit else min(args.limit, len(dataset))
    if n == 0:
        raise ConfigError(f"data set {args.dataset} has no pairs")

    def load(index: int):
        pair = dataset[index]
        return pair.pair_id, pair.ir, pair.vis

    plan = BagPlan(frames=args.frames, rgb_rate_hz=args.rate, thermal_offset_seconds=args.thermal_offset,
                   jitter_ms=args.jitter_ms, drop_rgb=args.drop_rgb, drop_thermal=args.drop_thermal,
                   texts=[parse_text_at(t) for t in args.text_at], seed=args.seed, storage=args.storage)
    with tqdm(total=args.frames, unit="frame", desc="make-bag", disable=args.no_progress) as bar:
        manifest = make_bag(load, n, args.out, plan, progress=bar.update)
    print(f"wrote {args.out}: {manifest.rgb_frames} RGB + {manifest.thermal_frames} thermal frames from {n} pairs "
          f"({len(manifest.rgb_dropped)} RGB and {len(manifest.thermal_dropped)} thermal frames dropped; expected "
          f"{manifest.expected_pairs} pairs); manifest {args.out}/{MANIFEST}")
    offset = manifest.replay_params["thermal_offset_seconds"]
    print(f"replay it: ris-fusion replay {shlex.quote(str(args.out))} --out {shlex.quote(str(args.out))}_out "
          f"--set thermal_offset_seconds={offset} --text \"the person\"")
    return 0
