"""The one error class a user can cause; the CLI prints its message as one line."""


class MobiledeployError(Exception):
    """A problem with the user's input or environment, with a message that says what to do."""
