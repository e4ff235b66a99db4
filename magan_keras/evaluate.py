"""`python -m magan_keras.evaluate`: score a trained model with both protocols and baselines.

The entry point only: the options and `main` live in `magan_keras.cli.evaluate`, the library in
`magan_keras.evaluation` (`evaluation.evaluate.evaluate_model`).
"""

if __name__ == "__main__":  # imported only when run: library code never imports the CLI
    from magan_keras.cli.evaluate import main

    raise SystemExit(main())
