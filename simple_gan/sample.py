"""Generate images with a trained simple GAN generator.

    python simple_gan/sample.py                      # 64 images from simple_gan/checkpoints/last.pt → samples.png
    python simple_gan/sample.py --num 1000 --out fakes/   # one PNG per image
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
    G, cfg, device = load_net(args, "simple_gan", "G",
                              lambda a: Generator(a["z_dim"], a["channels"], a["img_size"]))
    z = torch.randn(args.num, cfg["z_dim"], device=device)  # (N, 64)
    write_images(G(z), args.out)


if __name__ == "__main__":
    main_guard(main)
