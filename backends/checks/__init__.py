"""Checks before anything starts: presets against vLLM's surface, chat templates."""
