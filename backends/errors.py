"""The one base class for problems the operator can fix.

Every message names the culprit (file and key, port, preset, runtime); the CLI prints it as is
and the panel shows it in a notification, and neither treats it as a crash.
"""


class NapthaError(Exception):
    """A problem with input or environment, described for the operator."""
