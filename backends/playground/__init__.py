"""The playground's core: debug tool calls and guided outputs across temperatures.

``spec`` (what to send, checked field by field), ``judge`` (each sample's verdict and calls
that landed in ``content``), ``lint`` (warnings from the preset's tool-calling notes),
``run`` (samples through the proxy, with the model's raw text), ``sessions`` (saved sessions,
curl and SDK snippets). The Playground screen and ``naptha-tui try`` both drive ``run``.
"""
