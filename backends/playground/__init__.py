"""The playground's core: debug tool calls and guided outputs across temperatures.

``spec`` (what to send, checked field by field), ``judge`` (each sample's verdict and calls
that landed in ``content``), ``lint`` (warnings from the preset's tool-calling notes),
``run`` (the engine: samples through the proxy, with the model's raw text), ``results``
(samples, the validity grid, the sweep that keeps them), ``sessions`` (saved sessions, curl
and SDK snippets), ``examples`` (ready tools). The Playground screen and ``naptha-tui try``
both drive ``run``.
"""
