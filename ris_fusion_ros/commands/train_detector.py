"""``ris-fusion train detector``: fine-tune YOLOv5n(-seg) or YOLOX-Nano on fused frames of a labelled split.

Only for pairs that are not measured afterwards: pass the training split here and the other split
to ``eval detect`` / ``eval refer``. YOLOv5 results are derived from AGPL-3.0 weights, so they are
written to the model cache (or ``--out``), never into the repository; YOLOX-Nano is Apache-2.0, so its
fine-tune may ship. The exact command is stored beside the weights.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from .arguments import add_data_args, comma_list


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_args(parser, dataset_default="msrs")
    parser.add_argument("--model", default="yolov5n-seg", choices=("yolov5n", "yolov5n-seg", "yolox-nano"),
                        help="base detector (default yolov5n-seg)")
    parser.add_argument("--fusion", default="risfusenet",
                        help="comma-separated inputs it trains on: fusion method names, visible, infrared "
                             "(default risfusenet). With several, each draw of a pair picks one of them uniformly; "
                             "the first is the primary (used without augmentation)")
    parser.add_argument("--fused-from", help="cache folder of fused images (DIR/<method>/<id>.png): read when "
                                             "present, written after fusing otherwise")
    parser.add_argument("--out", help="checkpoint path (.pt); default <model cache>/detectors/finetuned/"
                                      "<model>-<fusion>-<split>-f<freeze>-s<seed>.pt")
    parser.add_argument("--epochs", type=int, default=30, help="default 30")
    parser.add_argument("--batch", type=int, default=8, help="default 8")
    parser.add_argument("--lr", type=float, help=f"peak learning rate (default {LEARNING_RATES['yolov5n']} for YOLOv5, "
                                                 f"{LEARNING_RATES['yolox-nano']} for YOLOX-Nano, whose loss is not "
                                                 "scaled by the batch)")
    parser.add_argument("--freeze", type=int, default=10,
                        help="layers kept frozen, from the input (default 10 = the backbone; 0 = train all); "
                             "YOLOX-Nano: backbone stages (stem, dark2, dark3, dark4, dark5; 5 or more = all)")
    parser.add_argument("--mosaic", type=float, default=0.0,
                        help="share of the augmented draws that are four-frame mosaics, 0-1 (default 0)")
    parser.add_argument("--imgsz", type=int, default=640,
                        help="square training canvas, a multiple of 32 (default 640); stored in the ONNX metadata, "
                             "so the model is later fed at this size unless told otherwise")
    parser.add_argument("--extra-labels", metavar="DIRS",
                        help="comma-separated label folders under the data root annotated on other images of the same "
                             "pairs (MSRS: labels/ir,labels/vi); their objects the training labels lack are added")
    parser.add_argument("--balance", type=float, default=0.0,
                        help="class-balanced draws: each frame is drawn with weight max(1, sqrt(B / f)) over its "
                             "classes, f the share of frames holding the class (repeat factors, Gupta et al. 2019); "
                             "epochs keep their length (default 0 = every frame once per epoch)")
    parser.add_argument("--paste", type=float, default=0.0,
                        help="copy-paste: share of the drawn frames (mosaic tiles included) that get 1-3 labelled "
                             "objects of other training frames pasted in, with a margin of their surroundings, at "
                             "their own height, moved sideways, classes drawn equally often, never over a "
                             "labelled object (Ghiasi et al. 2021), 0-1 (default 0)")
    parser.add_argument("--pseudo", metavar="DATASETS",
                        help="self-training: comma-separated unlabelled data sets (roadscene, llvip, m3fd, tno; never "
                             "the labelled one) whose pairs join training with a teacher's boxes as labels")
    parser.add_argument("--pseudo-teacher", metavar="MODEL",
                        help="the detector labelling the --pseudo pairs (name or ONNX file; required with --pseudo); "
                             "it looks at the first --pseudo-inputs rendering and the infrared image, merged like the "
                             "thermal stream")
    parser.add_argument("--pseudo-inputs",
                        help="comma-separated inputs the --pseudo pairs are rendered as (default: those of --fusion); "
                             "the first must be a fusion method")
    parser.add_argument("--pseudo-share", type=float, default=1 / 3,
                        help="share of the draws that go to pseudo-labelled frames, 0-1 (default 1/3); an epoch is "
                             "the labelled frames plus that share on top")
    parser.add_argument("--pseudo-conf", type=float, default=LABEL_SCORE,
                        help=f"teacher score from which a box is a label (default {LABEL_SCORE})")
    parser.add_argument("--pseudo-ignore", type=float, default=IGNORE_SCORE,
                        help=f"teacher score from which a box below --pseudo-conf is an ignore region: neither object "
                             f"nor background is taught there (default {IGNORE_SCORE})")
    parser.add_argument("--seed", type=int, default=0, help="default 0")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")


LABEL_SCORE, IGNORE_SCORE = 0.5, 0.2  # as core.detection.finetune.pseudo (not imported here: torch-free parser)
LEARNING_RATES = {"yolov5n": 0.01, "yolov5n-seg": 0.01, "yolox-nano": 0.002}


def default_output(model: str, inputs: list[str], split: str | None, seed: int, freeze: int,
                   mosaic: float = 0.0, imgsz: int = 640, extra_labels: bool = False, paste: float = 0.0,
                   pseudo: bool = False) -> Path:
    from ..core.paths import model_cache_dir

    split_name = Path(split).stem if split else "all"
    name = inputs[0] if len(inputs) == 1 else f"{inputs[0]}-mix{len(inputs)}"
    tag = (f"-m{mosaic:g}" if mosaic > 0 else "") + (f"-i{imgsz}" if imgsz != 640 else "") + \
        ("-xl" if extra_labels else "") + (f"-p{paste:g}" if paste > 0 else "") + ("-st" if pseudo else "")
    return model_cache_dir() / "detectors" / "finetuned" / f"{model}-{name}-{split_name}-f{freeze}{tag}-s{seed}.pt"


def _renderers(names: list[str], cache: Path | None, threads: int):
    """One ``pair -> image`` function per input; fused images go through the cache folder when given."""
    from ..core.data.images import write_image
    from ..core.detection.evaluation import SOURCE_INPUTS, InputSource
    from ..core.fusion import RuntimeOptions, create_method

    def renderer(name: str):
        if name in SOURCE_INPUTS:
            return InputSource(name).image
        method = create_method(name, RuntimeOptions(threads=threads))  # fails early on an unknown name
        folder = cache / name if cache is not None else None
        source = InputSource(name, folder, lambda: method)  # networks load their weights at the first fuse

        def render(pair):
            before = source.fused_on_the_fly
            image = source.image(pair)
            if folder is not None and source.fused_on_the_fly > before:
                write_image(folder / f"{pair.pair_id}.png", image)
            return image

        return render

    return [renderer(name) for name in names]


def _pseudo_samples(args: argparse.Namespace, names: list[str], inputs: list[str], labelled, model_names: list[str]):
    """The pairs of the ``names`` data sets, rendered and labelled by ``--pseudo-teacher`` (:mod:`..pseudo`)."""
    from tqdm import tqdm

    from ..core.data import open_dataset
    from ..core.detection import create_detector
    from ..core.detection.evaluation import SOURCE_INPUTS
    from ..core.detection.finetune.pseudo import Teacher, pseudo_samples
    from ..core.errors import ConfigError

    if not args.pseudo_teacher:
        raise ConfigError("--pseudo needs --pseudo-teacher: the detector that labels those pairs")
    if not 0.0 < args.pseudo_share < 1.0:
        raise ConfigError(f"--pseudo-share must be within (0, 1), got {args.pseudo_share}")
    if labelled.spec.name in names:
        raise ConfigError(f"--pseudo names the labelled data set '{labelled.spec.name}' itself")
    render_as = comma_list(args.pseudo_inputs) or inputs
    if not render_as or render_as[0] in SOURCE_INPUTS:
        raise ConfigError(f"--pseudo-inputs must start with a fusion method (the teacher's view), got {render_as}")
    teacher = Teacher(create_detector(args.pseudo_teacher, shared=args.shared_root), args.pseudo_conf,
                      args.pseudo_ignore)
    samples = []
    for name in names:
        dataset = open_dataset(name, shared=args.shared_root)
        cache = Path(args.fused_from) / name if args.fused_from else None
        samples += pseudo_samples(dataset, _renderers(render_as, cache, args.threads), teacher, model_names,
                                  labelled.class_names,
                                  progress=lambda items, n=name: tqdm(items, desc=f"pseudo-label {n}", unit="pair",
                                                                      disable=args.no_progress))
    return samples


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..core.data import open_dataset
    from ..core.detection.detector import WEIGHT_FILES, weights_dir
    from ..core.detection.export import export_checkpoint
    from ..core.detection.finetune.pseudo import pseudo_summary
    from ..core.detection.finetune.samples import Augment, build_samples
    from ..core.detection.finetune.trainer import FinetuneConfig, base_class_names, finetune
    from ..core.errors import ConfigError
    from ..core.paths import portable_path

    inputs = comma_list(args.fusion)
    if not inputs or len(set(inputs)) != len(inputs):
        raise ConfigError(f"--fusion needs distinct input names, got {args.fusion!r}")
    if not 0.0 <= args.mosaic <= 1.0:
        raise ConfigError(f"--mosaic must be within [0, 1], got {args.mosaic}")
    if not 0.0 <= args.paste <= 1.0:
        raise ConfigError(f"--paste must be within [0, 1], got {args.paste}")
    if args.balance < 0:
        raise ConfigError(f"--balance must be >= 0, got {args.balance}")
    if args.imgsz < 64 or args.imgsz % 32:
        raise ConfigError(f"--imgsz must be a multiple of 32 and at least 64, got {args.imgsz}")
    dataset = open_dataset(args.dataset, args.data_root, split=args.split, shared=args.shared_root)
    base = weights_dir(args.shared_root) / WEIGHT_FILES[args.model]
    renderers = _renderers(inputs, Path(args.fused_from) if args.fused_from else None, args.threads)
    extra = comma_list(args.extra_labels)
    samples = build_samples(dataset, renderers, base_class_names(base),
                            progress=lambda items: tqdm(items, desc=f"render ({', '.join(inputs)})", unit="pair",
                                                        disable=args.no_progress), extra_labels=extra)
    pseudo_sets = comma_list(args.pseudo)
    if pseudo_sets:
        pseudo = _pseudo_samples(args, pseudo_sets, inputs, dataset, base_class_names(base))
        samples += pseudo
        print(f"self-training: {pseudo_summary(pseudo)} from {', '.join(pseudo_sets)}, teacher {args.pseudo_teacher}")
    out = Path(args.out) if args.out else default_output(args.model, inputs, args.split, args.seed, args.freeze,
                                                         args.mosaic, args.imgsz, bool(extra), args.paste,
                                                         bool(pseudo_sets))
    lr = LEARNING_RATES[args.model] if args.lr is None else args.lr
    config = FinetuneConfig(epochs=args.epochs, batch=args.batch, lr=lr, seed=args.seed, threads=args.threads,
                            frozen_layers=args.freeze, augment=Augment(mosaic=args.mosaic, paste=args.paste),
                            canvas=(args.imgsz, args.imgsz), balance=args.balance,
                            pseudo_share=args.pseudo_share if pseudo_sets else 0.0)
    provenance = {"command": "ris-fusion " + shlex.join(sys.argv[1:]),
                  "dataset": portable_path(dataset.root, args.shared_root),
                  "split": args.split, "inputs": inputs, "extra_labels": extra}
    if pseudo_sets:
        provenance["pseudo"] = {"datasets": pseudo_sets, "teacher": args.pseudo_teacher, "share": args.pseudo_share,
                                "label_score": args.pseudo_conf, "ignore_score": args.pseudo_ignore,
                                **pseudo_summary(samples)}
    checkpoint = finetune(base, samples, config, out, provenance=provenance, progress=not args.no_progress)
    onnx_path = export_checkpoint(checkpoint)
    labelled = sum(1 for s in samples if not s.pseudo)
    pseudo_part = f" and {len(samples) - labelled} pseudo-labelled pairs" if labelled < len(samples) else ""
    print(f"trained on {labelled} pairs of {dataset.root} ({args.split or 'all'}){pseudo_part}; wrote {checkpoint}, "
          f"{onnx_path}, {checkpoint.with_suffix('.csv')}, {checkpoint.with_suffix('.json')}")
    print(f"use it with: --detectors {onnx_path}")
    return 0
