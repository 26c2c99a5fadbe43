"""The Ollama backend: a typed client over the official ``ollama`` package, and the daemon.

``client`` wraps ``ollama.AsyncClient`` (models, loaded models, pull, load, unload) and turns
connection and response errors into :class:`~naptha_tui.backends.errors.NapthaError` messages
that name the host and the model; ``types`` holds the frozen rows it returns; ``daemon``
attaches to a running ``ollama serve`` or starts one as a managed process of the node.
"""
