"""`python -m magan_keras.synthesize`: synthesise missing contrasts of NIfTI volumes.

The entry point only; the command's options and `main` live in `magan_keras.cli.synthesize`, the
work in `magan_keras.inference.synthesis`.
"""

if __name__ == "__main__":  # imported only when run: library code never imports the CLI
    from magan_keras.cli.synthesize import main

    raise SystemExit(main())
