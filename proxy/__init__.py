"""The LiteLLM proxy and the node it fronts.

``config`` renders LiteLLM's config, ``process`` runs the proxy, ``routes`` reads its routing
feed, and ``node`` holds :class:`~naptha_tui.proxy.node.Node`, the orchestrator of model servers
plus proxy that the CLI and the panel both drive.
"""
