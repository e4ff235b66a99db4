"""`python -m magan_keras.train`: train MA-GAN and write a run folder.

The entry point only; the command's options and `main` live in `magan_keras.cli.train`.
"""

if __name__ == "__main__":  # imported only when run: library code never imports the CLI
    from magan_keras.cli.train import main

    raise SystemExit(main())
