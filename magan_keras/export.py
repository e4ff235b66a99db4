"""`python -m magan_keras.export`: export the generator as a TF Serving SavedModel.

The entry point only; the command's options and `main` live in `magan_keras.cli.export`, the
work in `magan_keras.inference.export`.
"""

if __name__ == "__main__":  # imported only when run: library code never imports the CLI
    from magan_keras.cli.export import main

    raise SystemExit(main())
