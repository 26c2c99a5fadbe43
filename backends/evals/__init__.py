"""Tool-calling evaluation on the Berkeley Function-Calling Leaderboard's own cases.

``setup`` (install the leaderboard's ``bfcl-eval`` wheel without its dependencies into the
data dir, and find it), ``cases`` (its categories, questions and possible answers),
``convert`` (its function documents as OpenAI tools), ``decode`` (OpenAI tool calls in the
form its checker reads), ``checker`` (its own AST checker, imported with a stand-in for the
one module that would pull every provider SDK), ``run`` (cases x temperatures x guided
through the proxy, with progress and ``cancel()``), ``records`` (what a run produces: a
record per sample, accuracy cells, progress), ``results`` (saved runs, list, compare).
The Eval screen and ``naptha-tui eval`` both drive ``run``.
"""
