"""Results: one record per file, and the formats that carry them to users."""
