"""Generate images with a trained ProGAN: the EMA generator at the resolution (and fade-in alpha) where training
stands, or at a lower resolution with --resolution.

    python progan/sample.py                          # 64 images from progan/checkpoints/last.pt → samples.png
    python progan/sample.py --num 1000 --out fakes/  # one PNG per image (e.g. for FID)
    python progan/sample.py --resolution 16          # what the 16×16 stage draws
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))

import torch

from common.checkpoint import load_checkpoint
from common.errors import UserError
from common.flags import positive_int
from common.run import main_guard, pick_device
from common.sampling import net_from_checkpoint, noise, sample_parser, write_images
from model import Generator
from utils import batch_size_at, parse_batch_sizes, phases


def build(cfg):
    """The generator of a checkpoint's flags (`cfg` = its args)."""
    return Generator(cfg["max_resolution"], cfg["latent_dim"], cfg["channels"], cfg["fmap_base"], cfg["fmap_max"])


def draw(G, cfg, n, generator=None, level=None, alpha=1.0):
    """n images in [-1, 1] at resolution 4·2^level (default: the largest) with fade-in `alpha`, clamped as the
    grids are (evaluate.py and --eval_every draw through this too)."""
    z = noise(n, cfg["latent_dim"], like=G, generator=generator)  # (N, 512)
    return G(z, G.max_level if level is None else level, alpha).clamp(-1, 1)  # (N, C, R, R)


def where_training_stands(ck):
    """(level, alpha) of the checkpoint: the phase it is in and how far through a fade-in."""
    args = ck["args"]
    schedule = phases(args["max_resolution"].bit_length() - 3)
    if ck["epoch"] >= len(schedule):
        return schedule[-1][0], 1.0
    level, fading = schedule[ck["epoch"]]
    n_batches = round(args["kimg_per_phase"] * 1000) // batch_size_at(4 * 2 ** level,
                                                                      parse_batch_sizes(args["batch_sizes"]))
    return level, ck["batch_in_epoch"] / n_batches if fading else 1.0


@torch.no_grad()
def main(argv=None):
    p = sample_parser(__doc__.split("\n\n")[0], HERE)
    p.add_argument("--resolution", type=positive_int, default=None,
                   help="draw at this (lower, fully faded-in) resolution instead")
    args = p.parse_args(argv)
    device = pick_device(args.device)
    ck = load_checkpoint(args.checkpoint, "progan")
    G = net_from_checkpoint(ck, "G_ema", build, args.checkpoint, device)
    level, alpha = where_training_stands(ck)
    if args.resolution is not None:
        wanted = args.resolution.bit_length() - 3
        if args.resolution & (args.resolution - 1) or not 0 <= wanted <= level:
            raise UserError(f"--resolution {args.resolution}: this checkpoint has reached {4 * 2 ** level}×"
                            f"{4 * 2 ** level}; pass a power of two from 4 up to that")
        level, alpha = wanted, 1.0
    torch.manual_seed(args.seed)
    print(f"{4 * 2 ** level}×{4 * 2 ** level}, alpha {alpha:.3f}")
    write_images(draw(G, ck["args"], args.num, level=level, alpha=alpha), args.out)


if __name__ == "__main__":
    main_guard(main)
