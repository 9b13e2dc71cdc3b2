"""ris-fusion eval edit on one real pair: every effect moves the way it says, region edits stay inside."""

from __future__ import annotations

from ris_fusion_ros.core.color import to_gray
from ris_fusion_ros.core.data import open_dataset
from ris_fusion_ros.core.editing.evaluation import REGION_EDITS, evaluate_edits, evaluate_region_edits
from ris_fusion_ros.core.fusion import create_method


def test_edit_evaluation_on_one_pair(shared_root):
    fusion = create_method("risfusenet")
    result = evaluate_edits(fusion, open_dataset("roadscene", shared=shared_root), limit=1, progress=False)
    assert result.pairs == 1
    failed = [(s, e) for s, e, ok in result.directions() if not ok]
    assert not failed
    evaluate_region_edits(fusion, open_dataset("msrs", shared=shared_root), result, limit=1,
                          commands=REGION_EDITS[:3], progress=False)
    assert result.region_pairs == 1
    for command, (inside, outside) in result.region.items():
        assert outside <= 1.0 and inside > 1.0, command
    text = result.markdown("roadscene", fusion.name)
    assert "| (VII) ZS-N2N on VIS, then fuse |" in text and "26.86 s" in text


def test_edit_command_one_shot(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from ris_fusion_ros.cli import main

    rng = np.random.default_rng(0)
    ir = rng.integers(0, 256, (64, 80), dtype=np.uint8)
    vis = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    mask = np.zeros((64, 80), np.uint8)
    mask[10:40, 20:60] = 255
    for name, image in (("ir.png", ir), ("vis.png", vis), ("mask.png", mask)):
        Image.fromarray(image).save(tmp_path / name)
    args = ["edit", "--ir", str(tmp_path / "ir.png"), "--vis", str(tmp_path / "vis.png"), "--method", "max",
            "--mask", f"car={tmp_path / 'mask.png'}", "--out", str(tmp_path / "out.png")]
    assert main([*args, "--command", "darken the car"]) == 0
    out = to_gray(np.asarray(Image.open(tmp_path / "out.png")))
    plain = to_gray(create_method("max").fuse(ir, vis))
    assert out[mask > 0].mean() < plain[mask > 0].mean() - 5
    assert np.abs(out[mask == 0] - plain[mask == 0]).max() == 0
    assert main([*args, "--command", "paint the car blue"]) == 2
    assert "Nothing changed" in capsys.readouterr().out
