"""Inference: running a trained generator on whole volumes and exporting it.

- `generator`: `load_generator`, the model's preprocessing record (`preprocessing_of`,
  `preprocessing_note`, `canvas_size_of`), `predict_slices`, `synthesize_volume`, `to_unit_scale`.
- `volumes`: a subject's NIfTI files for inference (read by `tfds_brats.subjects.load_subject`),
  normalisation with the model's percentiles, the canvas rule, `save_like` (atomic writes).
- `synthesis`: `synthesize_subject`, `write_outputs`, `plan`, `find_subject_files` (the library of
  `python -m magan_keras.synthesize`, whose options live in `magan_keras.cli.synthesize`).
- `planes`: `synthesize_planes`, multi-planar synthesis (axial, coronal, sagittal slices of one
  volume synthesised and fused; `--planes`).
- `export`: `export_generator`, `describe` (the library of `python -m magan_keras.export`).

Slicing volumes to model-size slices and back is `tfds_brats.slicing`, shared with the builders.
No module here imports `magan_keras.cli`.
"""
