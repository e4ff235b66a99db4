"""Command-line tools: argument parsing and `main(argv=None)` of each `python -m magan_keras.<command>`.

Library code never imports this package.
"""
