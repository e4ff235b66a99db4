"""`python -m magan_keras.tune`: search gamma, alpha and beta with KerasTuner.

The entry point only; the command's options and `main` live in `magan_keras.cli.tune`.
"""

from magan_keras.cli.tune import main

if __name__ == "__main__":
    raise SystemExit(main())
