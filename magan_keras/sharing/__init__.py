"""Sharing trained models: preset folders with model cards, from a folder, the Hugging Face Hub or Kaggle.

- `preset`: `save_to_preset`, `from_preset`, `load_generator_from_preset`, `validate_preset`,
  `publish` (a preset folder: config, weights, preprocessing, `metadata.json`, model card).
- `card`: the model card (`README.md`) written from the run folder.
- `hub`: handles (`hf://owner/name`, `kaggle://...`, a local folder): download and upload.

Not `magan_keras.models.presets`, which names model configurations ("default", "paper").

Example:
>>> from magan_keras import sharing
>>> sharing.is_preset_source("hf://owner/name")
True
"""

from magan_keras.sharing.hub import HubError
from magan_keras.sharing.preset import (
    PresetError,
    from_preset,
    is_preset_source,
    load_generator_from_preset,
    publish,
    save_to_preset,
    training_config_file,
    validate_preset,
)

__all__ = [
    "HubError",
    "PresetError",
    "from_preset",
    "is_preset_source",
    "load_generator_from_preset",
    "publish",
    "save_to_preset",
    "training_config_file",
    "validate_preset",
]
