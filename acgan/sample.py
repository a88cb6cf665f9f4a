"""Generate images of chosen classes with a trained AC-GAN.

    python acgan/sample.py                           # a grid with one row per class → samples.png
    python acgan/sample.py --label 3 --num 16        # sixteen of class 3 (CIFAR-10: cats)
    python acgan/sample.py --label 7 --num 500 --out sevens/   # one PNG per image
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))

import torch

from common.errors import UserError
from common.run import main_guard
from common.sampling import load_net, noise, sample_parser, write_images
from model import Generator


def build(cfg):
    """The generator of a checkpoint's flags (`cfg` = its args)."""
    return Generator(cfg["z_dim"], cfg["num_classes"], cfg["channels"], cfg["ngf"])


def draw(G, cfg, labels, generator=None):
    """One image in [-1, 1] of each class in `labels` (B,) (evaluate.py and --eval_every draw through this too)."""
    z = noise(len(labels), cfg["z_dim"], like=G, generator=generator)  # (N, 100)
    return G(z, labels.to(z.device))  # (N, C, 32, 32)


@torch.no_grad()
def main(argv=None):
    p = sample_parser(__doc__.split("\n\n")[0], HERE)
    p.add_argument("--label", type=int, default=None,
                   help="class to generate (0-9 for CIFAR-10 and MNIST); default: one row of --num per class")
    p.set_defaults(num=8)
    args = p.parse_args(argv)
    G, cfg, device = load_net(args, "acgan", "G", build)
    classes = cfg["num_classes"]
    if args.label is not None and not 0 <= args.label < classes:
        raise UserError(f"--label {args.label} is not a class of this checkpoint; pass 0 to {classes - 1}")
    if args.label is None:  # one row per class, --num images per row
        labels = torch.arange(classes, device=device).repeat_interleave(args.num)
    else:
        labels = torch.full((args.num,), args.label, device=device)
    write_images(draw(G, cfg, labels), args.out, nrow=args.num if args.label is None else None)


if __name__ == "__main__":
    main_guard(main)
