"""Training internals: backend-free losses and the thin per-backend gradient steps."""
