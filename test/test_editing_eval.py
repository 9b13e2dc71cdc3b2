"""ris-fusion eval edit on one real pair: every effect moves the way it says, region edits stay inside."""

from __future__ import annotations

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
