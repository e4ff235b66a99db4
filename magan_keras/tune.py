"""`python -m magan_keras.tune`: search gamma, alpha and beta with KerasTuner.

The entry point only; the command's options and `main` live in `magan_keras.cli.tune`.
"""

if __name__ == "__main__":  # imported only when run: library code never imports the CLI
    from magan_keras.cli.tune import main

    raise SystemExit(main())
