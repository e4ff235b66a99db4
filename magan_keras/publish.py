"""`python -m magan_keras.publish`: send a trained model's preset folder to the Hub, Kaggle or a folder.

The entry point only; the command's options and `main` live in `magan_keras.cli.publish`, the
work in `magan_keras.sharing`.
"""

if __name__ == "__main__":  # imported only when run: library code never imports the CLI
    from magan_keras.cli.publish import main

    raise SystemExit(main())
