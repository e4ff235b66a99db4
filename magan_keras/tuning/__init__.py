"""Hyperparameter search with KerasTuner (the library; the command is `magan_keras.cli.tune`).

- `search_space`: search space files, validated against `TrainConfig` and the model's bounds.
- `hypermodel`: `MAGANHyperModel`, the objectives and the tuners.
- `settings`: `TuneSettings`, everything a search depends on, and `make_settings`.
- `folder`: the search folder, checked and claimed before any work.
- `oracle`: the one workaround of a KerasTuner bug (a saved oracle's finished "ongoing" trials).
- `serve`: the distributed roles and the chief's oracle server.
- `search`: making and running a search.
- `reports`: the leaderboard, the objective plot and the best config.
"""
