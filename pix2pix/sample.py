"""Translate images with a trained pix2pix generator.

    python pix2pix/sample.py my_labels/                      # each image → pix2pix/outputs/<name>.png
    python pix2pix/sample.py data/facades/test --paired      # A|B test pairs → input | output | target strips

Each input is resized to the training --crop_size (256) and translated the way the paper tests: dropout on and
BatchNorm on the image's own statistics (Section 3.3); --seed fixes the dropout.
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))

import torch
import torch.nn.functional as F

from common.errors import UserError
from common.run import main_guard
from common.sampling import input_images, load_net, to_tensor, translate_parser, write_image
from model import UNetGenerator
from utils import paper_test_mode


def build(cfg):
    return UNetGenerator(3, 3, cfg["ngf"], num_downs=cfg["crop_size"].bit_length() - 1)


def main(argv=None):
    p = translate_parser(__doc__.split("\n\n")[0], HERE)
    p.add_argument("--paired", action="store_true",
                   help="inputs are A|B training-layout pairs: translate the checkpoint's input half and write "
                        "input | output | target side by side")
    args = p.parse_args(argv)
    images = input_images(args.input)
    G, cfg, device = load_net(args, "pix2pix", "G", build)
    size = cfg["crop_size"]
    for path, image in images:
        if args.paired:
            w = image.shape[1]
            if w % 2:
                raise UserError(f"{path} has an odd width ({w}); --paired inputs are A|B pairs side by side")
            a, b = image[:, :w // 2], image[:, w // 2:]
            image, target = (a, b) if cfg["direction"] == "AtoB" else (b, a)
        x = F.interpolate(to_tensor(image, device), size=(size, size), mode="bicubic", antialias=True)
        with paper_test_mode(G, args.seed):
            y = G(x.clamp(-1, 1))  # (1, 3, 256, 256)
        if args.paired:
            t = F.interpolate(to_tensor(target, device), size=(size, size), mode="bicubic", antialias=True)
            y = torch.cat([x, y, t.clamp(-1, 1)], dim=3)  # (1, 3, 256, 768): input | output | target
        write_image(y[0], args.out, path.name)
    print(f"translated {len(images)} image(s) into {args.out}/")


if __name__ == "__main__":
    main_guard(main)
