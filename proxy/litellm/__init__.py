"""The LiteLLM integration: config, the proxy process, its routing feed, the copied hooks."""
