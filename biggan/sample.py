"""Generate images of chosen classes with a trained BigGAN: the EMA generator with standing BatchNorm statistics,
optionally with the truncation trick, or the paper's fidelity/variety grid (Figure 2a).

    python biggan/sample.py                              # one row per class (up to 10) → samples.png
    python biggan/sample.py --label 3 --num 16 --truncation 0.5
    python biggan/sample.py --truncation_grid --out truncation.png   # columns: thresholds 2, 1, 0.5, 0.04
    python biggan/sample.py --label 3 --num 500 --out cats/            # one PNG per image
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))

import torch

from common.errors import UserError
from common.flags import non_negative_int, positive_float
from common.run import main_guard
from common.sampling import load_net, sample_parser, write_images
from model import Generator
from utils import class_rows, standing_copy, truncated_noise

GRID_THRESHOLDS = (2.0, 1.0, 0.5, 0.04)  # the paper's Figure 2(a): from variety to fidelity


def build(cfg):
    """The generator of a checkpoint's flags (`cfg` = its args)."""
    return Generator(cfg["resolution"], cfg["ch"], cfg["dim_z"], cfg["shared_dim"], cfg["num_classes"],
                     cfg["attention"], init=None)


def prepare(G, cfg, generator=None, n_batches=16):
    """What every sample is drawn from: a copy of G with standing BatchNorm statistics (16 batches, as
    BigGAN-PyTorch's sample.py; evaluate.py and --eval_every call this too)."""
    return standing_copy(G, n_batches, batch=min(cfg["batch_size"], 64), generator=generator)


def draw(G, cfg, labels, generator=None, truncation=None):
    """One image in [-1, 1] of each class in `labels` (B,), z truncated at `truncation` if given."""
    device = next(G.parameters()).device
    z = truncated_noise(len(labels), cfg["dim_z"], truncation, generator, device)  # (B, dim_z)
    return G(z, labels.to(device))  # (B, 3, R, R)


@torch.no_grad()
def main(argv=None):
    p = sample_parser(__doc__.split("\n\n")[0], HERE)
    p.add_argument("--label", type=int, default=None,
                   help="class to generate (--num images of it); default: one row of --num per class, the first 10 "
                        "classes at most")
    p.add_argument("--truncation", type=positive_float, default=None,
                   help="redraw every z entry beyond ±t (the truncation trick; off unless given)")
    p.add_argument("--truncation_grid", action="store_true",
                   help="one row per class, columns: thresholds 2, 1, 0.5, 0.04 on the same z (Figure 2a)")
    p.add_argument("--standing", type=non_negative_int, default=16,
                   help="batches for the standing BatchNorm statistics (0: the EMA's running statistics)")
    p.set_defaults(num=8)
    args = p.parse_args(argv)
    G, cfg, device = load_net(args, "biggan", "G_ema", build)
    classes = cfg["num_classes"]
    if args.label is not None and not 0 <= args.label < classes:
        raise UserError(f"--label {args.label} is not a class of this checkpoint; pass 0 to {classes - 1}")
    if args.standing:
        G = prepare(G, cfg, n_batches=args.standing)
    if args.truncation_grid:  # the same z in every column, clipped at each threshold in turn (entries beyond
        rows = [args.label] if args.label is not None else list(range(min(classes, 10)))  # it redrawn)
        g = torch.Generator().manual_seed(args.seed)
        images = []
        for row in rows:
            for t in GRID_THRESHOLDS:
                z = truncated_noise(1, cfg["dim_z"], t, generator=g.manual_seed(args.seed * 1000 + row))
                images.append(G(z.to(device), torch.tensor([row], device=device)))
        write_images(torch.cat(images), args.out, nrow=len(GRID_THRESHOLDS))
        return
    if args.label is None:  # one row per class, --num images per row, the same z down each column
        z, labels = class_rows(classes, args.num, cfg["dim_z"], args.truncation)
        write_images(G(z.to(device), labels.to(device)), args.out, nrow=args.num)
    else:
        labels = torch.full((args.num,), args.label, device=device)
        write_images(draw(G, cfg, labels, truncation=args.truncation), args.out)


if __name__ == "__main__":
    main_guard(main)
