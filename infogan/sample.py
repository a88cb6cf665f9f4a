"""Draw the paper's Figure 2 with a trained InfoGAN: rows = the categorical code c1, columns = one continuous code
swept from −2 to 2 (the training prior covers [−1, 1]), the other codes and the noise fixed.

    python infogan/sample.py                         # c2's sweep → infogan/samples.png (10 rows × 10 columns)
    python infogan/sample.py --code 2 --num 7        # c3, 7 columns
    python infogan/sample.py --random --num 1000 --out fakes/   # random latents instead, one PNG each
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))

import torch

from common.errors import UserError
from common.run import main_guard
from common.sampling import load_net, sample_parser, write_images
from model import Generator
from utils import figure_latents, sample_latent


def build(cfg):
    """The generator of a checkpoint's flags (`cfg` = its args)."""
    return Generator(cfg["noise_dim"], cfg["n_cat"], cfg["n_cont"], cfg["channels"])


def draw(G, cfg, n, generator=None):
    """n images in [-1, 1] from random latents (evaluate.py and --eval_every draw through this too)."""
    latent, _, _ = sample_latent(n, cfg, next(G.parameters()).device, generator)  # (N, 74)
    return G(latent)  # (N, C, 28, 28)


@torch.no_grad()
def main(argv=None):
    p = sample_parser(__doc__.split("\n\n")[0], HERE)
    p.add_argument("--code", type=int, default=1, help="which continuous code to sweep: 1 = c2, 2 = c3")
    p.add_argument("--random", action="store_true", help="--num random latents instead of the Figure 2 grid")
    p.set_defaults(num=10)
    p.description = __doc__.split("\n\n")[0]
    args = p.parse_args(argv)
    G, cfg, device = load_net(args, "infogan", "G", build)
    if args.random:
        write_images(draw(G, cfg, args.num), args.out)
        return
    if not 1 <= args.code <= cfg["n_cont"]:
        raise UserError(f"--code {args.code}: this checkpoint has {cfg['n_cont']} continuous codes; pass 1 to "
                        f"{cfg['n_cont']}")
    if args.num < 2:
        raise UserError(f"--num {args.num}: a sweep needs at least 2 columns")
    latents = figure_latents(cfg, args.num, args.code - 1, device, args.seed)
    write_images(G(latents), args.out, nrow=args.num)


if __name__ == "__main__":
    main_guard(main)
