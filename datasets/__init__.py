"""gatosuite.datasets."""
