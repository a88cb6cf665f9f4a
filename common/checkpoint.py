"""Checkpoints: one dict, written atomically, read back with `torch.load(weights_only=True)`.

A checkpoint holds everything needed to rebuild the run and continue it bit for bit:

    {"format": 1, "arch": "dcgan",
     "nets": {"G": state_dict, ...}, "optimizers": {...}, "scalers": {...}, "schedulers": {...},
     "epoch": int, "step": int, "batch_in_epoch": int,
     "rng": {"torch": ByteTensor, "cuda": [ByteTensor], "numpy": {...}, "python": (...)},
     "args": vars(args)}

Only tensors, numbers, strings, lists, tuples and dicts go in, so `weights_only=True` (no pickle code execution)
can load it. numpy's RNG state is stored as a tensor for the same reason.
"""
import os
import random
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from common.errors import CheckpointError

FORMAT = 1


def save_checkpoint(path, state):
    """Write `state` (with the format number) to `path` atomically: a crash or Ctrl-C during the write leaves
    the previous checkpoint intact, never a truncated file. Args go in as a plain dict (a CheckpointArgs from a
    loaded checkpoint would be a class that weights_only=True refuses to load)."""
    if isinstance(state.get("args"), dict):
        state = {**state, "args": dict(state["args"])}
    atomic_save(path, {"format": FORMAT, **state})


def atomic_save(path, obj):
    """torch.save `obj` to a temp file in the same folder, fsync, then rename it over `path`. A write that fails
    (a full disk, an unwritable folder) leaves `path` as it was and no temp file, and is one CheckpointError
    naming the folder, the free space and the space needed."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) or (isinstance(e, RuntimeError) and "inline_container" in str(e)):
            raise write_error(path, tensor_bytes(obj), e) from None  # torch's zip writer: "file write failed",
            # or on a full tmpfs "unexpected pos 1194176 vs 1194064" (both seen)
        raise


def write_error(path, needed, error):
    """The one-line CheckpointError for a failed write of about `needed` bytes to `path`."""
    reason = getattr(error, "strerror", None) or str(error).strip().splitlines()[0][:100]
    try:
        free = f"{shutil.disk_usage(path.parent).free / 2**20:,.1f} MB free"
    except OSError:
        free = "its free space unknown"
    kept = f"{path.name} there is unchanged" if path.exists() else f"no {path.name} was written"
    return CheckpointError(f"cannot write {path} ({reason}): {path.parent} has {free}, a checkpoint needs about "
                           f"{needed / 2**20:,.1f} MB; {kept}. Free space there, or pass --ckpt_dir "
                           "on a disk with room (and --resume from the last good checkpoint)")


def tensor_bytes(obj):
    """Bytes of the tensors in a nested dict / list / tuple: about what torch.save writes."""
    if torch.is_tensor(obj):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(v) for v in obj)
    return 0


def copy_checkpoint(src, dst):
    """An atomic copy of a checkpoint file (best.pt, epoch_NNN.pt from last.pt): bytes, not a second torch.save."""
    src, dst = Path(src), Path(dst)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=dst.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f, open(src, "rb") as g:
            shutil.copyfileobj(g, f, 2**24)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise write_error(dst, src.stat().st_size, e) from None
        raise


# A temp file of atomic_save for last.pt, best.pt or epoch_NNN.pt: <name>.<8 random characters of mkstemp>.tmp
STALE_TEMP = re.compile(r"(last|best|epoch_\d+)\.pt\.[a-z0-9_]{8}\.tmp")


def remove_stale_temps(folder):
    """Delete the temp files a save killed mid-write left in `folder` (only that pattern); returns their names."""
    folder = Path(folder)
    stale = sorted(f for f in folder.iterdir() if STALE_TEMP.fullmatch(f.name)) if folder.is_dir() else []
    for f in stale:
        f.unlink(missing_ok=True)
    return [f.name for f in stale]


class CheckpointArgs(dict):
    """A checkpoint's args (the flags of the run that wrote it). A key read that is not there is one CheckpointError
    naming the checkpoint and the key, not a KeyError traceback: a checkpoint whose arch was relabelled, or one from
    another version, lacks flags its folder reads. Only ever held in memory: args are written as plain dicts."""

    def __init__(self, args, path, arch):
        super().__init__(args)
        self.path, self.arch = path, arch

    def __missing__(self, key):
        raise missing_args(self.path, self.arch, [key])


def missing_args(path, arch, keys):
    """The one-line CheckpointError for a checkpoint at `path` labelled `arch` whose args lack `keys`."""
    names = ", ".join(f"'{k}'" for k in keys)
    return CheckpointError(f"{path} was written with no {names} in its args, which {arch} needs: it is not a "
                           f"checkpoint of {arch} (relabelled, or from another version); pass one written by "
                           f"{arch}'s train.py")


def load_checkpoint(path, arch=None):
    """Read a checkpoint on the CPU with `weights_only=True`; check it was written by `arch`. Its args come back as
    CheckpointArgs, so that a folder reading a flag the checkpoint does not hold gets one line, not a traceback.

    Raises CheckpointError (one line, with the fix) for a missing file, an unreadable file, or another arch.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; pass the path of a .pt file written by train.py")
    try:
        # map_location="cpu": a checkpoint written on CUDA loads on a CPU-only machine; nets move afterwards.
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types here (UnpicklingError, RuntimeError, EOFError...)
        reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"cannot read checkpoint {path} ({reason}); "
                              "pass a .pt file written by this collection's train.py") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT or "nets" not in ckpt \
            or not isinstance(ckpt.get("args", {}), dict):
        raise CheckpointError(f"{path} is not a checkpoint of this collection (format {FORMAT}); "
                              "pass a .pt file written by train.py")
    if arch is not None and ckpt.get("arch") != arch:
        raise CheckpointError(f"{path} was written by {ckpt.get('arch')}/train.py, not {arch}; "
                              f"pass a checkpoint from {arch}/checkpoints/")
    ckpt["args"] = CheckpointArgs(ckpt.get("args", {}), path, ckpt.get("arch"))
    return ckpt


def load_state(module, state, name, path):
    """`module.load_state_dict(state)` with a one-line error when the shapes or keys do not match."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError) as e:
        first = str(e).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0] if first else ""
        raise CheckpointError(f"checkpoint {path} does not fit {name} ({detail[:160]}); it was trained with "
                              "other model flags: resume without changing them, or start a new run") from None


def rng_state():
    """The state of every random generator a training step may touch."""
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gauss": float(np_state[4])},
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
        state["cuda_current"] = torch.cuda.get_rng_state()  # the device this process trains on
    if hasattr(torch, "mps") and torch.backends.mps.is_available():
        state["mps"] = torch.mps.get_rng_state()
    return state


def set_rng_state(state):
    """Inverse of `rng_state`. CUDA/MPS states are restored only where that device exists now."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gauss"]))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "cuda_current" in state and torch.cuda.is_available():  # under torchrun each process's own device gets
        torch.cuda.set_rng_state(state["cuda_current"])  # the state of the device the checkpoint's writer used
    if "mps" in state and hasattr(torch, "mps") and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])
