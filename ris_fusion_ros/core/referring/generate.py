"""Builds the expression files under ``data/expressions`` from the MSRS dev boxes.

* ``train.json``: template expressions on the *training* images only (``is_validation_image`` is
  False), ground truth computed from the boxes; the lexicon and thresholds were built on these.
* ``heldout.json``: the hand-written ``heldout_handwritten.txt`` (validation images only, written
  before the parser) with boxes filled in from ``labels/fusion``.
* ``train_absent.json``: road-class no-matches on the training images ("the car" where no annotation of
  the image, ``labels/fusion``, ``labels/ir`` or ``labels/vi``, names a car). The template file's
  no-matches are mostly classes the detectors do not have ("the dog"); these test whether a false
  detection of a class the detector has turns into an answer, as the hand-written held-out ones do.
* ``train_nouns.json``: nouns outside the lexicon for choosing the encoder's threshold (paraphrases
  of the three classes, and things that are none of them). None of them is in the held-out set.

Run: ``python -m ris_fusion_ros.core.referring.generate --out data/expressions`` (seeded).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

import numpy as np

from ..data import open_dataset
from ..data.labels import label_folders, read_label_sets
from .expressions import is_validation_image, read_handwritten, write_expressions

SYNONYMS = {
    "person": (["person", "pedestrian", "man", "woman"], ["people", "pedestrians", "persons"]),
    "car": (["car", "vehicle"], ["cars", "vehicles"]),
    "bicycle": (["bicycle", "bike"], ["bicycles", "bikes"]),
}
ABSENT = ["dog", "cat", "bus", "truck", "motorcycle", "horse", "train", "airplane", "boat", "bird", "cow",
          "umbrella", "bench", "stop sign", "fire hydrant", "sheep", "elephant", "suitcase"]
TRAIN_NOUNS = {
    "person": ["child", "kid", "boy", "girl", "jogger", "walker", "passerby", "adult", "gentleman", "runner",
               "student", "worker"],
    "car": ["taxi", "suv", "van", "jeep", "hatchback", "minivan", "coupe", "cab", "pickup"],
    "bicycle": ["pushbike", "mountain bike", "road bike", "tandem", "bmx"],
    "none": ["sky", "road", "fence", "pole", "wall", "window", "cloud", "puddle", "crosswalk", "mailbox",
             "statue", "flag", "shadow", "door", "bridge", "grass", "roof", "curb", "sidewalk", "billboard",
             "tunnel", "lantern", "hedge", "balcony", "moon", "rock", "bush", "trash can", "chimney", "river"],
}
OTHER_LABELS = ("labels/ir", "labels/vi")  # MSRS's other two annotations of each image
ORDINAL_WORDS = ["first", "second", "third", "fourth", "fifth"]
NUMBER_WORDS = ["one", "two", "three", "four", "five"]


def _boxes_of(pair) -> list[list[float]]:
    return [[round(float(v), 2) for v in row[1:5]] for row in pair.boxes]


def _entry(pair, names, text: str, kind: str, targets: list[int]) -> dict[str, Any]:
    boxes = _boxes_of(pair)
    return {"image": pair.pair_id, "text": text, "type": kind, "boxes": [boxes[i] for i in targets],
            "targets": targets, "classes": [names[int(pair.boxes[i, 0])] for i in targets]}


def _clear(values: list[float], margin: float) -> bool:
    """The best value leads the runner-up by ``margin`` (relative), so the ground truth is unambiguous."""
    ordered = sorted(values, reverse=True)
    return len(ordered) == 1 or ordered[0] - ordered[1] > margin * max(1e-6, abs(ordered[0]))


def generate_training(dataset, rng: random.Random, per_image: int = 8) -> list[dict[str, Any]]:
    """Template expressions with computed ground truth on the training images."""
    names = dataset.class_names
    out: list[dict[str, Any]] = []
    for record in dataset.records:
        if is_validation_image(record.pair_id):
            continue
        pair = dataset.load(record)
        height = pair.size[1]
        classes = pair.boxes[:, 0].astype(int)
        cx = (pair.boxes[:, 1] + pair.boxes[:, 3]) / 2
        near = pair.boxes[:, 4] / height + (pair.boxes[:, 4] - pair.boxes[:, 2]) / height
        heat = []
        for row in pair.boxes:
            x1, y1, x2, y2 = (int(np.rint(v)) for v in row[1:5])
            roi = pair.ir[y1:max(y1 + 1, y2), x1:max(x1 + 1, x2)]
            heat.append(float(np.percentile(roi, 75)) if roi.size else 0.0)
        heat = np.asarray(heat)
        items: list[dict[str, Any]] = []
        for cid in sorted(set(classes.tolist())):
            name = names[cid]
            singular, plural = SYNONYMS[name]
            idx = [int(i) for i in np.flatnonzero(classes == cid)]
            by_x = sorted(idx, key=lambda i: cx[i])
            noun, nouns = rng.choice(singular), rng.choice(plural)
            if len(idx) == 1:
                items.append(_entry(pair, names, f"the {noun}", "category", idx))
            else:
                items.append(_entry(pair, names, rng.choice([f"the {nouns}", f"all {nouns}", f"every {noun}",
                                                             f"all the {nouns}"]), "all", by_x))
                items.append(_entry(pair, names, rng.choice([f"the leftmost {noun}", f"the {noun} on the left"]),
                                    "spatial", [by_x[0]]))
                items.append(_entry(pair, names, rng.choice([f"the rightmost {noun}", f"the {noun} on the right"]),
                                    "spatial", [by_x[-1]]))
                if _clear(list(near[idx]), 0.1):
                    best = max(idx, key=lambda i: near[i])
                    items.append(_entry(pair, names, rng.choice([f"the nearest {noun}", f"the closest {noun}"]),
                                        "distance", [best]))
                if _clear(list(-near[idx]), 0.1):
                    items.append(_entry(pair, names, f"the farthest {noun}", "distance",
                                        [min(idx, key=lambda i: near[i])]))
                if _clear(list(heat[idx]), 0.1):
                    items.append(_entry(pair, names, rng.choice([f"the warmest {noun}", f"the hottest {noun}"]),
                                        "thermal", [max(idx, key=lambda i: heat[i])]))
                if len(idx) >= 3:
                    k = rng.randint(2, min(len(idx), 5))
                    side = rng.choice(["left", "right"])
                    order = by_x if side == "left" else by_x[::-1]
                    items.append(_entry(pair, names, f"the {ORDINAL_WORDS[k - 1]} {noun} from the {side}",
                                        "ordinal", [order[k - 1]]))
                    if len(idx) % 2 == 1:
                        items.append(_entry(pair, names, f"the middle {noun}", "spatial", [by_x[len(idx) // 2]]))
                    g = rng.randint(2, len(idx) - 1)
                    items.append(_entry(pair, names, f"the {NUMBER_WORDS[g - 1]} {nouns} on the {side}", "group",
                                        sorted(order[:g])))
            # relations to one object of another class, when the reference is unique
            for rid in sorted(set(classes.tolist()) - {cid}):
                refs = [int(i) for i in np.flatnonzero(classes == rid)]
                if len(refs) != 1:
                    continue
                r = refs[0]
                ref_noun = rng.choice(SYNONYMS[names[rid]][0])
                left = [i for i in idx if cx[i] < cx[r]]
                right = [i for i in idx if cx[i] > cx[r]]
                if len(left) == 1:
                    items.append(_entry(pair, names, f"the {noun} left of the {ref_noun}", "relation", left))
                if len(right) == 1:
                    items.append(_entry(pair, names, f"the {noun} to the right of the {ref_noun}", "relation", right))
                gaps = [_gap(pair.boxes[i, 1:5], pair.boxes[r, 1:5]) for i in idx]
                order = sorted(range(len(idx)), key=lambda k: gaps[k])
                if gaps[order[0]] < 20 and (len(idx) == 1 or gaps[order[1]] > 3 * gaps[order[0]] + 30):
                    items.append(_entry(pair, names, f"the {noun} next to the {ref_noun}", "relation",
                                        [idx[order[0]]]))
        rng.shuffle(items)
        out.extend(items[:per_image])
        present = {names[c] for c in classes}
        absent = rng.choice(ABSENT + [n for n in SYNONYMS if n not in present])
        noun = absent if absent not in SYNONYMS else rng.choice(SYNONYMS[absent][0])
        out.append({"image": pair.pair_id, "text": f"the {noun}", "type": "no_match", "boxes": [], "targets": [],
                    "classes": []})
    return out


def generate_absent_road(dataset, other_labels: tuple[str, ...] = OTHER_LABELS) -> list[dict[str, Any]]:
    """One "the <noun>" per training image and road class that none of its annotations names; the noun
    cycles through the class's singular synonyms."""
    names = dataset.class_names
    folders = label_folders(dataset.root, other_labels)
    turn = dict.fromkeys(SYNONYMS, 0)
    out: list[dict[str, Any]] = []
    for record in dataset.records:
        if is_validation_image(record.pair_id):
            continue
        pair = dataset.load(record)
        every = [pair.boxes, *read_label_sets(folders, record.pair_id, *pair.size)]
        named = {names[int(c)] for boxes in every for c in boxes.reshape(-1, 5)[:, 0]}
        for name, (singular, _) in SYNONYMS.items():
            if name in named:
                continue
            out.append({"image": pair.pair_id, "text": f"the {singular[turn[name] % len(singular)]}",
                        "type": "no_match", "boxes": [], "targets": [], "classes": []})
            turn[name] += 1
    return out


def _gap(a, b) -> float:
    dx = max(0.0, max(a[0], b[0]) - min(a[2], b[2]))
    dy = max(0.0, max(a[1], b[1]) - min(a[3], b[3]))
    return float(np.hypot(dx, dy))


def heldout_from_handwritten(dataset, source: Path) -> list[dict[str, Any]]:
    """The hand-written lines with their ground-truth boxes; refuses training images."""
    names = dataset.class_names
    records = {r.pair_id: r for r in dataset.records}
    out = []
    for pair_id, kind, text, targets in read_handwritten(source):
        if not is_validation_image(pair_id):
            raise ValueError(f"held-out expression on a training image {pair_id}: {text!r}")
        pair = dataset.load(records[pair_id])
        if any(t >= len(pair.boxes) for t in targets):
            raise ValueError(f"{pair_id}: index out of range in {targets} for {text!r}")
        out.append(_entry(pair, names, text, kind, targets))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="data/expressions", help="folder for the JSON files")
    parser.add_argument("--data-root", help="MSRS folder (default <shared>/data/msrs)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = Path(args.out)
    dataset = open_dataset("msrs", data_root=args.data_root)
    train = generate_training(dataset, random.Random(args.seed))
    write_expressions(out / "train.json", train)
    heldout = heldout_from_handwritten(dataset, out / "heldout_handwritten.txt")
    write_expressions(out / "heldout.json", heldout)
    absent = generate_absent_road(dataset)
    write_expressions(out / "train_absent.json", absent)
    nouns = [{"noun": n, "class": c} for c, words in TRAIN_NOUNS.items() for n in words]
    write_expressions(out / "train_nouns.json", nouns)
    print(f"train.json: {len(train)} expressions on {len({e['image'] for e in train})} training images; "
          f"heldout.json: {len(heldout)} on {len({e['image'] for e in heldout})} validation images; "
          f"train_absent.json: {len(absent)} road-class no-matches; "
          f"train_nouns.json: {len(nouns)} nouns")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
