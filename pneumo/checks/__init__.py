"""Checks that decide whether an answer can be trusted: the input gate before
the model (and, beside it, the population check)."""
