"""Small helpers with no domain knowledge: atomic writes, a progress bar."""
