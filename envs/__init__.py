"""gatosuite.envs."""
