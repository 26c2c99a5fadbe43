"""Model servers, runtimes, presets, settings and state: everything below the UI.

Nothing in this package imports Textual; the panel and the CLI both drive it.
"""
