"""The one way the collection reads a weights file it did not write itself: a user's --backbone_weights or
--vgg_weights, a file in torch's hub cache ($TORCH_HOME/hub/checkpoints), or a fresh download into that cache.

Each is read as data, never as code: `torch.load(weights_only=True)` unpickles tensors and plain containers only,
so a pickle that would call a function is refused before anything of it runs. A file whose name carries the first
hex digits of its SHA-256 (torch hub's `name-<hex>.ext`, as the hub names its downloads) must hash to them, so a
truncated, swapped or replaced cache file is caught by name; the state dict must hold the key its net is known by.
Only then does the state dict (never the path) go to the net that uses it. Every refusal is one UserError line that
names the file and the fix.
"""
import hashlib
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch.hub import HASH_REGEX

from common.errors import UserError


def first_line(error):
    """The first line of an exception's message (its type's name when it has none), short enough for one line."""
    text = str(error).strip()
    return text.splitlines()[0].strip()[:160] if text else type(error).__name__


def hash_prefix(path):
    """The hex digits torch hub's naming puts in `path`'s name (`name-<hex>.ext`), or None where it carries none."""
    match = HASH_REGEX.search(Path(path).name)
    return match.group(1) if match and match.group(1) else None


def sha256_prefix_ok(path):
    """Whether the file's SHA-256 starts with the hex digits its name carries (True where it carries none)."""
    prefix = hash_prefix(path)
    if prefix is None:
        return True
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(2**24), b""):  # in chunks: VGG19's file is over half a gigabyte
            digest.update(chunk)
    return digest.hexdigest().startswith(prefix)


def load_state_dict_file(path, what, fix, expect_key=None, hashed=False, flag=None):
    """The state dict in `path`, read with weights_only=True, after checking (with `hashed`) the SHA-256 prefix its
    name carries; it must be a dict holding `expect_key`. `what` says what the file should be, `fix` what to do
    otherwise, `flag` the option that named the file. Anything else is one UserError and nothing of the file runs."""
    path = Path(path)
    name = f"{flag} {path}" if flag else str(path)
    if not path.is_file():
        raise UserError(f"{name} does not exist; {fix}")
    if hashed and not sha256_prefix_ok(path):
        raise UserError(f"{name} is not {what}: its SHA-256 does not start with the {hash_prefix(path)} its name "
                        f"carries (a truncated, swapped or replaced file); {fix}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types here (UnpicklingError, RuntimeError, EOFError...)
        raise UserError(f"{name} cannot be read as {what} ({first_line(e)}); {fix}") from None
    if not isinstance(state, dict) or (expect_key is not None and expect_key not in state):
        detail = f"no {expect_key}" if expect_key is not None else f"a {type(state).__name__}, not a state dict"
        raise UserError(f"{name} is not {what} ({detail}); {fix}")
    return state


def hub_file(url):
    """Where torch hub keeps the download of `url`: $TORCH_HOME/hub/checkpoints/<the URL's file name>."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name


def cached_weights(url, what, offline, expect_key=None):
    """The state dict of `url` from torch's hub cache, downloaded there first when absent (checked against the
    SHA-256 prefix of its name as it arrives, then again as any cached file is). `offline` says what to do when the
    download fails; a cached file that fails a check is to be deleted, so that the next run fetches it again."""
    cached = hub_file(url)
    if not cached.is_file():
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(url, str(cached), hash_prefix=hash_prefix(cached), progress=False)
        except Exception as e:
            reason = str(e).strip().splitlines()[-1].strip()[:100] if str(e).strip() else type(e).__name__
            raise UserError(f"{what} are not in {cached.parent} and their download failed ({reason}); "
                            f"{offline}") from None
    return load_state_dict_file(cached, f"{what} (torch's hub cache)", expect_key=expect_key, hashed=True,
                                fix=f"delete it, and the next run fetches it again from {url}")
