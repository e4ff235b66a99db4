"""Evaluation: the protocols, the baselines, the subjects, results tables and figures, and `evaluate_model`.

- `protocols`: BraSyn's per-volume and the per-slice metrics, on numpy volumes.
- `through_plane`: slice SSIM in each orientation and the roughness along z (stripes between slices).
- `baselines`: the two voxel-wise baselines (`Baselines`, `DEFAULT_MAX_EXAMPLES`).
- `subjects`: `SubjectData` from a prepared split or a BraTS folder, `load_split`.
- `evaluate`: `evaluate_model`, the model's prediction of one subject.
- `results`: `EvaluationResults` (summary, markdown, all-or-nothing `write`).
- `figures`: the evaluation and synthesis PNGs.

The command line is `magan_keras.cli.evaluate`; nothing here imports `magan_keras.cli`.
"""
