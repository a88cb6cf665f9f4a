"""Generate images with a trained DCGAN generator.

    python dcgan/sample.py                           # 64 images from dcgan/checkpoints/last.pt → samples.png
    python dcgan/sample.py --num 1000 --out fakes/   # one PNG per image (e.g. for FID)
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))

import torch

from common.run import main_guard
from common.sampling import load_net, noise, sample_parser, write_images
from model import Generator


def build(cfg):
    """The generator of a checkpoint's flags (`cfg` = its args)."""
    return Generator(cfg["z_dim"], cfg["channels"], cfg["ngf"])


def draw(G, cfg, n, generator=None):
    """n images in [-1, 1] from G (evaluate.py and --eval_every draw through this too)."""
    return G(noise(n, cfg["z_dim"], 1, 1, like=G, generator=generator))  # (N, 100, 1, 1) → (N, C, 64, 64)


@torch.no_grad()
def main(argv=None):
    args = sample_parser(__doc__.split("\n\n")[0], HERE).parse_args(argv)
    G, cfg, _ = load_net(args, "dcgan", "G", build)
    write_images(draw(G, cfg, args.num), args.out)


if __name__ == "__main__":
    main_guard(main)
