"""What every run shares: the load test, the evaluation and the playground are one shape.

A run's settings are one table of fields (``fields``): the command's flags, the panel's form
and the form's reader are made from it, and every problem names its field. Finished runs are
kept in one store (``store``): 0600 JSON files in the state dir, listed, loaded, summed up and
compared. A run goes one way (``lifecycle``): progress snapshots while it runs, a cancel that
keeps the partial result, saved, then finished. Report text is made in each feature's
``report`` module, so the command line and the panel print the same lines (``text``: the
plain table both use).

Nothing here imports Textual. ``fields`` and ``text`` use the standard library alone: the
command line builds its parser from the tables.
"""
