"""The generator a checkpoint is scored with, rebuilt by its folder's own sample.py (evaluate.py and the
classifier scores of evaluation/mnist_classifier.py and evaluation/cifar_classifier.py)."""
import contextlib
import importlib
import sys
from argparse import Namespace
from pathlib import Path

import torch

from common.sampling import net_from_checkpoint


def generator_from_checkpoint(ckpt, folder, path, device, seed=0):
    """(name, G): the generator a folder's sample.py draws from, for evaluate.py and the classifiers' scores. The
    EMA generator where the checkpoint keeps one, else G, in eval mode on `device`, passed through the folder's
    sample.prepare where it has one (BigGAN's standing BatchNorm statistics, from a generator seeded with `seed`).
    `folder` is what folder_modules yields."""
    name = "G_ema" if "G_ema" in ckpt["nets"] else "G"
    G = net_from_checkpoint(ckpt, name, folder.sample.build, path, device)
    if hasattr(folder.sample, "prepare"):
        G = folder.sample.prepare(G, ckpt["args"], torch.Generator(device=device).manual_seed(seed))
    return name, G


@contextlib.contextmanager
def folder_modules(folder):
    """A folder's sample, utils and dataset modules, imported by their plain names as the folder's own scripts
    import them (sample.py says `from model import ...`): the folder first on sys.path meanwhile, and modules of
    those names from another folder set aside and restored after (every folder has a model.py)."""
    root, names = Path(__file__).resolve().parents[1], ("model", "utils", "dataset", "sample")
    saved = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    sys.path.insert(0, str(root / folder))
    try:
        yield Namespace(**{name: importlib.import_module(name) for name in ("sample", "utils", "dataset")})
    finally:
        sys.path.remove(str(root / folder))
        for name in names:
            sys.modules.pop(name, None)
        sys.modules.update(saved)
