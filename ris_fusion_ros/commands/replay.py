"""``ris-fusion replay IN_BAG --out OUT_BAG``: the node pipeline offline over a ROS 2 bag, with a report."""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from ..core.errors import ConfigError
from ..core.pipeline import Pipeline, load_node_params, merged, parse_text_at
from ..core.pipeline.bag import bag_summary
from ..core.pipeline.bag_maker import read_manifest
from ..core.pipeline.replay import Replayer, ReplayTopics
from ..core.pipeline.report import build_summary, write_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("in_bag", metavar="IN_BAG", help="ROS 2 bag folder (MCAP or sqlite3)")
    parser.add_argument("--out", required=True, help="output bag folder (must not exist)")
    parser.add_argument("--report", help="report folder (default OUT_BAG_report)")
    parser.add_argument("--text", help="referring text active from the start")
    parser.add_argument("--text-at", action="append", default=[], metavar='T:"text"',
                        help="set the text T seconds after the bag start (repeatable; '' clears)")
    parser.add_argument("--edit", action="append", default=[], metavar='"command"',
                        help="fusion edit command active from the start, e.g. 'brighten the person' (repeatable)")
    parser.add_argument("--edit-at", action="append", default=[], metavar='T:"command"',
                        help="send an edit command T seconds after the bag start, as on fusion_edit_text "
                             "(repeatable; 'reset' restores plain fusion)")
    parser.add_argument("--params", help="node parameter YAML (config/pipeline.yaml); the nodes' keys")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one parameter (YAML value syntax), e.g. thermal_offset_seconds=-0.12")
    parser.add_argument("--no-detection", action="store_true", help="fusion only")
    parser.add_argument("--no-referring", action="store_true", help="fusion and detection only")
    parser.add_argument("--no-overlays", action="store_true", help="do not write the overlay images")
    parser.add_argument("--metrics-every", type=int, default=10, help="fusion metrics on every Nth frame (0: none)")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap", help="output storage")
    parser.add_argument("--thermal-topic", default="/thermal/image_raw")
    parser.add_argument("--rgb-topic", default="/rgb/image_raw")
    parser.add_argument("--rgb-info-topic", default="/rgb/camera_info")
    parser.add_argument("--text-topic", default="/referring_text")
    parser.add_argument("--edit-topic", default="/fusion_edit_text")


def _values(args: argparse.Namespace) -> dict[str, Any]:
    values = load_node_params(args.params) if args.params else {}
    for item in args.set:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        values[key.strip()] = yaml.safe_load(raw)
    return merged(values)


def run(args: argparse.Namespace) -> int:
    values = _values(args)
    manifest = read_manifest(args.in_bag)
    pipeline = Pipeline.from_values(values, detect=not args.no_detection,
                                    refer=not (args.no_detection or args.no_referring))
    if args.text:
        update = pipeline.set_text(args.text)
        if not update.accepted:
            raise ConfigError(update.message)
    total = bag_summary(args.in_bag)["messages"]
    topics = ReplayTopics(args.thermal_topic, args.rgb_topic, args.rgb_info_topic, args.text_topic, args.edit_topic)
    edit_at = [(0.0, text) for text in args.edit] + [parse_text_at(t, "--edit-at") for t in args.edit_at]
    with tqdm(total=total, unit="msg", desc="replay", disable=args.no_progress) as bar:
        replayer = Replayer(pipeline, args.in_bag, args.out, topics=topics,
                            text_at=[parse_text_at(t) for t in args.text_at], edit_at=edit_at,
                            overlays=not args.no_overlays, markers=values["publish_markers"],
                            marker_depth=values["marker_depth_meters"],
                            metrics_every=args.metrics_every, storage=args.storage, progress=bar.update)
        stats = replayer.run()
    pipeline.close()
    stages = [f"fusion {values['fusion_method']} ({pipeline.fusion.info()})"]
    if pipeline.detection is not None:
        stages.append(f"detection {pipeline.detection.info()}")
    if pipeline.referring is not None:
        stages.append("referring")
    info = {"in_bag": str(args.in_bag), "out_bag": str(args.out), "pipeline": "; ".join(stages),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
            "metrics_every": args.metrics_every, "parameters": values}
    summary = build_summary(stats, pipeline.sync_stats, dict(pipeline.bad), manifest, info)
    report = write_report(Path(args.report or f"{args.out}_report"), summary, stats)
    pairing = summary["pairing"]
    print(f"{stats.frames} frames from {pairing['pairs']} pairs in {stats.wall_s:.1f} s; unmatched thermal "
          f"{pairing['thermal']['unmatched']}, rgb {pairing['rgb']['unmatched']}; report {report}")
    if "injected" in summary and not summary["injected"]["match"]:
        print("note: pairing differs from what make-bag injected (see the report); is thermal_offset_seconds set "
              f"to {manifest['replay_params']['thermal_offset_seconds']}?")
    return 0
