"""One kind of error for everything a user can fix, printed as one line by `common.run.main_guard`."""


class UserError(Exception):
    """A problem with the user's input (flags, data, checkpoint). The message names the problem and the fix."""


class DataError(UserError):
    """Missing, empty, unreadable or wrongly laid-out data."""


class CheckpointError(UserError):
    """A checkpoint that is missing, unreadable or written by another architecture / configuration."""


class NonFiniteError(UserError):
    """A loss or weight became NaN/inf: the run stops and keeps the last good checkpoint."""
