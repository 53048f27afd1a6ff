"""gatosuite.evaluation."""
