"""`python -m magan_keras.export`: export the generator as a TF Serving SavedModel.

The entry point only; the command's options and `main` live in `magan_keras.cli.export`, the
work in `magan_keras.inference.export`.
"""

from magan_keras.cli.export import main

if __name__ == "__main__":
    raise SystemExit(main())
