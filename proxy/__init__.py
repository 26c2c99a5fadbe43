"""The LiteLLM proxy: config rendering, the proxy process, the routing-event feed."""
