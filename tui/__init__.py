"""The Textual panel and the command line."""
