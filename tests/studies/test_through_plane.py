"""The phantom through-plane study: its variants, its end-to-end run and page section, its reuse."""

import os

from magan_keras.training.config import TrainConfig
from studies import ablation, through_plane


def test_variants_set_the_context_and_the_planes():
    base = TrainConfig(image_size=32)
    configs = {v: ablation.variant_config(base, v, 1, "runs", through_plane.VARIANTS) for v in through_plane.VARIANTS}
    assert configs["2d"].context_slices == 0 and configs["2d"].planes == "axial"
    assert configs["context_2"].context_slices == 2 and configs["context_2"].planes == "axial"
    assert configs["planes"].planes == "axial,coronal,sagittal" and configs["planes"].context_slices == 0
    assert configs["planes_context_1"].context_slices == 1
    assert configs["planes"].output_dir == os.path.join("runs", "planes", "seed1")
