"""Hyperparameter search files for `python -m magan_keras.tune`.

- `spaces/*.toml`: the built-in search spaces (`paper`, the default, and
  `extended`); `python -m magan_keras.tune --search-space NAME_OR_PATH`.
- `launch_distributed.py`: starts a KerasTuner chief and N workers on this machine
  (`python -m tuning.launch_distributed --workers 2 -- [tune options]`).

The format of a space file is described in `magan_keras.tuning.search_space`.
"""
