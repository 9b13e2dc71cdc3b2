"""Fine-tune the YOLOv5n(-seg) definitions on fused frames (a split of labelled pairs, never the pairs
they are then measured on). Derived weights stay in the model cache: the base weights are AGPL-3.0."""
