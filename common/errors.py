"""One kind of error for everything a user can fix, printed as one line by `common.run.main_guard`."""


def one_line(error):
    """The message of `error` as one line; one raised inside a DataLoader worker arrives wrapped in the worker's
    traceback ("Original Traceback ..."), whose last line is the original message."""
    message = str(error).strip()
    if "Original Traceback" in message:
        message = message.splitlines()[-1].split("Error: ", 1)[-1]
    return message


class UserError(Exception):
    """A problem with the user's input (flags, data, checkpoint). The message names the problem and the fix."""


class DataError(UserError):
    """Missing, empty, unreadable or wrongly laid-out data."""


class CheckpointError(UserError):
    """A checkpoint that is missing, unreadable or written by another architecture / configuration."""


class NonFiniteError(UserError):
    """A loss or weight became NaN/inf: the run stops and keeps the last good checkpoint."""
