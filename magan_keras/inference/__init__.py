"""Inference: loading a generator, volumes <-> model slices, synthesis of subjects, SavedModel export."""
