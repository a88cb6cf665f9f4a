"""Generate images with a trained WGAN-GP generator.

    python wgan_gp/sample.py                           # 64 images from wgan_gp/checkpoints/last.pt → samples.png
    python wgan_gp/sample.py --num 1000 --out fakes/   # one PNG per image (e.g. for FID)
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))

import torch  # noqa: E402

from common.run import main_guard  # noqa: E402
from common.sampling import load_net, sample_parser, write_images  # noqa: E402
from model import Generator  # noqa: E402


@torch.no_grad()
def main(argv=None):
    args = sample_parser(__doc__.split("\n\n")[0], HERE).parse_args(argv)
    G, cfg, device = load_net(args, "wgan_gp", "G", lambda a: Generator(a["z_dim"], a["channels"], a["ngf"]))
    z = torch.randn(args.num, cfg["z_dim"], 1, 1, device=device)  # (N, 100, 1, 1)
    write_images(G(z), args.out)


if __name__ == "__main__":
    main_guard(main)
