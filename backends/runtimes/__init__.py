"""Runtimes: managed venvs that run vLLM and LiteLLM, prepared models, the bench launcher."""
