"""`python -m magan_keras.evaluate`: score a trained model with both protocols and baselines.

The entry point only; the command's options and `main` live in `magan_keras.evaluation.evaluate`.
"""

from magan_keras.evaluation.evaluate import main

if __name__ == "__main__":
    raise SystemExit(main())
