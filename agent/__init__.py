"""gatosuite.agent."""
