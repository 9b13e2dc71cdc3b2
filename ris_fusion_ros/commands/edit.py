"""``ris-fusion edit``: fuse one pair and apply a text command to it (one shot, no ROS)."""

from __future__ import annotations

import argparse

from ..core.data.images import read_ir, read_visible, write_image
from ..core.editing import OBJECTS, EditSession
from ..core.errors import ConfigError
from ..core.fusion import RuntimeOptions, create_method
from .arguments import add_runtime_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ir", required=True, help="infrared image")
    parser.add_argument("--vis", required=True, help="visible image (same size)")
    parser.add_argument("--command", required=True, help="e.g. \"brighten the person and denoise the rest\"")
    parser.add_argument("--mask", action="append", default=[], metavar="PHRASE=FILE",
                        help="mask image for a target phrase (nonzero = inside); repeatable. 'objects=FILE' "
                             "also defines the background")
    parser.add_argument("--method", default="risfusenet", help="fusion method (default risfusenet)")
    parser.add_argument("--out", required=True, help="output image")
    add_runtime_args(parser)


def run(args: argparse.Namespace) -> int:
    ir, vis = read_ir(args.ir), read_visible(args.vis)
    masks = {}
    for item in args.mask:
        phrase, sep, path = item.partition("=")
        if not sep or not phrase.strip():
            raise ConfigError(f"--mask must look like PHRASE=FILE, got '{item}'")
        phrase = phrase.strip().lower()
        masks[phrase] = read_ir(path)
        if phrase == "objects":  # the detected objects: "background" is their complement
            masks[OBJECTS] = masks[phrase]
    session = EditSession(background=False)
    reply = session.command(args.command)
    print(reply.message)
    if not reply.ok:
        return 2
    fusion = create_method(args.method, RuntimeOptions(args.backend, args.device, args.precision, args.threads))
    write_image(args.out, session.render(ir, vis, masks, fusion))
    missing = [c.target for c in reply.clauses if c.target not in masks and c.target not in ("everything",
                                                                                             "background")]
    if missing:
        print(f"no mask given for: {', '.join(sorted(set(missing)))} (those edits did nothing)")
    print(f"wrote {args.out}")
    return 0
