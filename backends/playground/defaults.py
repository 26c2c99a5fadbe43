"""A playground session's defaults, said once.

The session (``Spec``), the panel's form (which reads them from ``Spec``) and the command line's
flags and help all take them from here.

The standard library only: the command line reads these to build its parser, and ``--help``
must stay instant.
"""

from __future__ import annotations

TEMPERATURES = (0.0,)
SAMPLES = 1
"""Samples per temperature."""
MAX_TOKENS = 256
"""Per sample."""
DEFAULT_CONCURRENCY = 4
"""Samples in flight at once."""
