"""Errors with a user-facing message (the CLI prints them without a traceback)."""


class KeepfitError(Exception):
    """A problem the user can act on: bad config key, missing file, corrupt checkpoint, NaN loss..."""


class ConfigError(KeepfitError):
    """An invalid training or evaluation config (unknown key, wrong type)."""


class CheckpointError(KeepfitError):
    """A checkpoint that cannot be read (missing, corrupt, wrong layout)."""
