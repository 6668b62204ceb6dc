"""Model registry, demo models, serving, capture and feedback."""
