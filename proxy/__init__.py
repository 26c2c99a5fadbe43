"""The node and the LiteLLM proxy in front of it: two concerns, two sub-packages.

``litellm`` is the LiteLLM integration: ``config`` renders its config, ``process`` runs the
proxy, ``routes`` reads its routing feed, and ``hooks`` and ``auth`` are copied beside the
config for the proxy to import. ``node`` is the node itself: :class:`~naptha_tui.proxy.node.Node`
(up, down, status; ``core``), ``swap``, the memory gate (``memory``), observation
(``observe``), remote nodes (``remotes``) and the endpoints it hands the apps (``targets``).
The node drives the LiteLLM side; the LiteLLM side never imports the node.
"""
