"""Research scripts (the ablation study and others) that write docs/results.md; not part of the installed package."""
