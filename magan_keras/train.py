"""`python -m magan_keras.train`: train MA-GAN and write a run folder.

The entry point only; the command's options and `main` live in `magan_keras.cli.train`.
"""

from magan_keras.cli.train import main

if __name__ == "__main__":
    raise SystemExit(main())
