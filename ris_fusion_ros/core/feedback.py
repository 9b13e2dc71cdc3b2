"""Referring feedback into fusion (the RIS-FUSION loop): the referred mask becomes the fusion control map.

RisFuseNet takes a per-pixel ``control`` map (+1 leans fully to infrared, -1 to visible, 0 = plain)
and an optional text embedding for its text gate. Feeding the referred object's mask back as a
positive control makes the referred object lean to the thermal image, where people and running
engines are bright; the rest of the frame keeps the plain fusion.

* Offline (evaluation) the loop is two passes over one frame: pass 1 plain fusion -> detect -> refer
  -> mask; pass 2 fusion with :func:`feedback_control` of that mask -> detect -> refer
  (:func:`two_pass`).
* Live (the pipeline and the nodes) a second fusion per frame would double the cost, so the mask
  referred on frame t drives the fusion of frame t+1 (one frame of lag; objects move little in 33 ms,
  and the dilation covers that motion).
* Search: when the text named people, or vehicles / bicycles, and found nothing, the detector looks again
  at a view of the same frame that favours the source that category is seen best in (people: infrared;
  vehicles and bicycles: visible), and the text is referred again (:func:`search_pass`). The view is the frame
  fused again with the whole control map at +-1 (``fusion``: the feedback proper) or the source image
  itself (``source``). This is the feedback that measurably helps (README, "Fusion that helps"): a missed
  object is more often visible in one source than in the blend, while leaning a found object's own
  region only takes away what the detector relied on. The pipeline runs it on the same frame (parameter
  ``search``); only frames whose text found nothing pay for the second detection.

Nothing here is trained: the feedback strength and dilation are tuned (see ``ris-fusion eval feedback``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from .detection.types import Detection
from .errors import ConfigError, DataError
from .referring.types import ReferredSelection

DEFAULT_DILATE_PX = 4  # tuned on training expressions (ris-fusion eval feedback; README)
DEFAULT_FEATHER_PX = 8
#: Classes whose pass-1 detections drive the detection feedback ("make the detected objects stand out").
FEEDBACK_CLASSES = ("person", "bicycle", "car")
#: Categories a detector finds best in the thermal image. Measured on the 48 held-out MSRS images with the
#: detector fine-tuned on several inputs: person AP50 infrared 0.903 vs fused 0.847-0.870, while bicycles
#: (0.567 vs 0.609-0.674) and cars (0.619 vs 0.794) are worse in infrared.
INFRARED_CATEGORIES = ("person",)
#: Categories a search looks for in a visible-leaning frame: cars and bicycles are worse in infrared (see
#: above); motorcycles, buses and trucks by kinship (MSRS labels none of them), so "the vehicle" searches too.
VISIBLE_CATEGORIES = ("bicycle", "car", "motorcycle", "bus", "truck")
#: Where a search looks: nowhere, the frame fused again leaning to the category's source, or that source.
SEARCH_MODES = ("off", "fusion", "source")
#: The lean of a fusion search. Measured on MSRS referring expressions with four detectors: 1.0 rescued more
#: no-matches than 0.5 with every one of them (README, "Fusion that helps").
SEARCH_STRENGTH = 1.0


def _as_mask(source: ReferredSelection | np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """Bool HxW from a selection (no-match -> empty), a 0/255 or bool mask, or None (empty)."""
    if source is None:
        return np.zeros(shape, bool)
    if isinstance(source, ReferredSelection):
        if source.no_match:
            return np.zeros(shape, bool)
        source = source.mask
    mask = np.asarray(source)
    if mask.shape != tuple(shape):
        raise DataError(f"feedback mask is {mask.shape[::-1]} (WxH) but the frame is {tuple(shape)[::-1]}")
    return mask > 0


def validate_strength(strength: float) -> float:
    """The feedback strength as float; ConfigError outside [0, 1] (0 = off, 1 = fully infrared inside)."""
    value = float(strength)
    if not 0.0 <= value <= 1.0 or value != value:
        raise ConfigError(f"feedback_strength must be within [0, 1], got {strength}")
    return value


def feedback_control(selection_or_mask: ReferredSelection | np.ndarray | None, shape: tuple[int, int],
                     strength: float, dilate_px: int = DEFAULT_DILATE_PX,
                     feather_px: int = DEFAULT_FEATHER_PX) -> np.ndarray:
    """Float32 HxW control map: ``strength`` on the mask dilated by ``dilate_px`` pixels, falling linearly
    to 0 over ``feather_px`` more pixels (no hard seam), exactly 0 further out.

    An empty selection, a no-match or ``strength`` 0 gives all zeros (= plain fusion).
    """
    strength = validate_strength(strength)
    if dilate_px < 0 or feather_px < 0:
        raise ConfigError(f"dilate_px and feather_px must be >= 0, got {dilate_px} and {feather_px}")
    height, width = int(shape[0]), int(shape[1])
    mask = _as_mask(selection_or_mask, (height, width))
    control = np.zeros((height, width), np.float32)
    if strength == 0.0 or not mask.any():
        return control
    core = mask.astype(np.uint8)
    if dilate_px > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate_px + 1, 2 * dilate_px + 1))
        core = cv2.dilate(core, kernel)
    if feather_px > 0:
        # distance (pixels) of every pixel outside the dilated mask to it; 0 inside
        distance = cv2.distanceTransform((core == 0).astype(np.uint8), cv2.DIST_L2, 5)
        control = np.clip(1.0 - distance / float(feather_px + 1), 0.0, 1.0).astype(np.float32)
    else:
        control = core.astype(np.float32)
    control *= strength
    return control


def search_lean(selection: ReferredSelection) -> float:
    """+1 (toward infrared) when ``selection`` found nothing and its text asks only for infrared-favoured
    categories, -1 (toward visible) when it asks only for visible-favoured ones, else 0 (no search)."""
    classes = set(selection.classes)
    if not (selection.no_match and classes):
        return 0.0
    if classes <= set(INFRARED_CATEGORIES):
        return 1.0
    if classes <= set(VISIBLE_CATEGORIES):
        return -1.0
    return 0.0


def search_control(selection: ReferredSelection | np.ndarray | None, shape: tuple[int, int],
                   strength: float = SEARCH_STRENGTH) -> np.ndarray | None:
    """The uniform control of a search (:func:`search_lean` times ``strength`` over the whole frame), or
    None when ``selection`` does not search (found something, mixed or no categories, a bare mask)."""
    strength = validate_strength(strength)
    lean = search_lean(selection) if isinstance(selection, ReferredSelection) else 0.0
    if lean == 0.0 or strength == 0.0:
        return None
    return np.full((int(shape[0]), int(shape[1])), lean * strength, np.float32)


def validate_search(mode: str | bool | None) -> str:
    """``mode`` if it is one of :data:`SEARCH_MODES`, else ConfigError naming them. YAML reads a bare ``off``
    as False, so False (and None) mean "off"."""
    if mode is False or mode is None:
        return "off"
    if mode not in SEARCH_MODES:
        raise ConfigError(f"search must be one of {', '.join(SEARCH_MODES)}, got {mode!r}")
    return str(mode)


def search_image(mode: str, lean: float, fusion: Any, ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """The view a search detects on: ``fusion`` fused with the uniform control ``lean`` (``fusion`` mode), or
    the infrared image as 3-channel (``lean`` > 0) / the visible image (``lean`` < 0) in ``source`` mode."""
    if validate_search(mode) == "fusion":
        return fusion.fuse(ir, vis, control=np.full(ir.shape[:2], lean, np.float32))
    if mode == "source":
        return np.repeat(ir[:, :, None], 3, axis=2) if lean > 0 else vis
    raise ConfigError("search is off: there is no search view")


def selection_control(selection: ReferredSelection | np.ndarray | None, shape: tuple[int, int], strength: float,
                      dilate_px: int = DEFAULT_DILATE_PX, search: bool = True) -> np.ndarray:
    """The feedback control map of one referring result: :func:`feedback_control` of its mask, or with
    ``search`` the :func:`search_control` when it found nothing of a searchable category."""
    strength = validate_strength(strength)
    searched = search_control(selection, shape, strength) if search else None
    if searched is not None:
        return searched
    return feedback_control(selection, shape, strength, dilate_px)


def detections_mask(detections: Sequence[Detection], shape: tuple[int, int],
                    classes: Sequence[str] = FEEDBACK_CLASSES) -> np.ndarray:
    """uint8 0/255 union of the detections of ``classes``: instance masks where given, else filled boxes."""
    height, width = int(shape[0]), int(shape[1])
    union = np.zeros((height, width), bool)
    for det in detections:
        if det.class_name not in classes:
            continue
        if det.mask is not None and np.asarray(det.mask).shape == (height, width):
            union |= np.asarray(det.mask, bool)
            continue
        x1, y1, x2, y2 = det.box
        c1, r1 = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
        c2, r2 = min(width, int(np.ceil(x2))), min(height, int(np.ceil(y2)))
        union[r1:r2, c1:c2] = True
    return union.astype(np.uint8) * 255


def text_embedding(text: str) -> np.ndarray:
    """The referring text as the fusion network's text-gate input (the referring encoder's embedding)."""
    from .text.encoder import encode_one

    return encode_one(text)


@dataclass
class PassResult:
    """One pass of fuse -> detect -> refer on one frame."""

    fused: np.ndarray
    detections: list[Detection]
    selection: ReferredSelection


@dataclass
class TwoPassResult:
    plain: PassResult
    control: np.ndarray
    feedback: PassResult


def run_pass(fusion: Any, detect: Callable[[np.ndarray], list[Detection]], referrer: Any, ir: np.ndarray,
             vis: np.ndarray, text: str, control: np.ndarray | None = None,
             text_gate: np.ndarray | None = None) -> PassResult:
    """Fuse (with optional control map / text-gate embedding), detect on the fused frame, refer ``text``."""
    conditioning: dict[str, np.ndarray] = {}
    if control is not None:
        conditioning["control"] = control
    if text_gate is not None:
        conditioning["text"] = text_gate
    fused = fusion.fuse(ir, vis, **conditioning)
    detections = detect(fused)
    height, width = ir.shape[:2]
    selection = referrer.refer(text, detections, (width, height), thermal=ir)
    return PassResult(fused, detections, selection)


def two_pass(fusion: Any, detect: Callable[[np.ndarray], list[Detection]], referrer: Any, ir: np.ndarray,
             vis: np.ndarray, text: str, strength: float, dilate_px: int = DEFAULT_DILATE_PX,
             use_text_gate: bool = False, plain: PassResult | None = None, search: bool = True) -> TwoPassResult:
    """Offline mask feedback for one frame: pass 1 plain (or ``plain`` if already computed), pass 2 with the
    control map of pass 1's result (:func:`selection_control`; the text's embedding too when
    ``use_text_gate``)."""
    if plain is None:
        plain = run_pass(fusion, detect, referrer, ir, vis, text)
    control = selection_control(plain.selection, ir.shape[:2], strength, dilate_px, search)
    gate = text_embedding(text) if use_text_gate else None
    second = run_pass(fusion, detect, referrer, ir, vis, text, control, gate)
    return TwoPassResult(plain, control, second)


def search_explanation(mode: str, lean: float) -> str:
    """What a searched answer's explanation gains: where the answer came from."""
    source = "infrared" if lean > 0 else "visible"
    view = f"the frame fused again leaning to {source}" if mode == "fusion" else f"the {source} image"
    return f"; search: no match on the fused frame, this answer from {view}"


def search_again(first: ReferredSelection, mode: str, view_detections: Callable[[float], list[Detection] | None],
                 refer: Callable[[list[Detection]], ReferredSelection]
                 ) -> tuple[ReferredSelection, list[Detection]] | None:
    """The search of one referring result, shared by every caller (they differ only in how they get a view's
    detections): None when ``first`` found something, does not search, ``mode`` is off, or
    ``view_detections(lean)`` gives None (the view is missing); else the text referred again by ``refer`` on
    the view's detections (its explanation says so) and those detections."""
    lean = search_lean(first) if validate_search(mode) != "off" else 0.0
    if not lean:
        return None
    detections = view_detections(lean)
    if detections is None:
        return None
    second = refer(detections)
    return replace(second, explanation=second.explanation + search_explanation(mode, lean)), detections


def search_pass(fusion: Any, detect: Callable[[np.ndarray], list[Detection]], referrer: Any, ir: np.ndarray,
                vis: np.ndarray, text: str, first: PassResult, mode: str = "fusion",
                strength: float = SEARCH_STRENGTH) -> PassResult:
    """The search on one frame (:func:`search_again`): ``first`` itself when it does not search, else the
    text referred on the detections of the :func:`search_image` (its answer replaces the no-match)."""
    strength = validate_strength(strength)
    height, width = ir.shape[:2]
    views: dict[float, np.ndarray] = {}

    def view_detections(lean: float) -> list[Detection]:
        views[lean] = search_image(mode, lean * strength, fusion, ir, vis)
        return detect(views[lean])

    searched = search_again(first.selection, mode, view_detections,
                            lambda found: referrer.refer(text, found, (width, height), thermal=ir))
    if searched is None:
        return first
    selection, detections = searched
    return PassResult(next(iter(views.values())), detections, selection)
