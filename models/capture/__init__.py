"""Capture: the spool, sealed segments, prediction records and the Python logger."""
