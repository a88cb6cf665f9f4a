"""Translate images with a trained CycleGAN: G (X → Y, --direction AtoB) or F (Y → X, --direction BtoA).

    python cyclegan/sample.py my_horses/                     # each image → cyclegan/outputs/<name>.png
    python cyclegan/sample.py painting.jpg --direction BtoA  # the other generator

The generators are fully convolutional: each image keeps its aspect ratio, its shorter side scaled to the
training --crop_size (256) and both sides rounded to a multiple of 4 (two stride-2 convs down, two up).
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))

import torch
import torch.nn.functional as F

from common.run import main_guard
from common.sampling import input_images, load_net, to_tensor, translate_parser, write_image
from model import ResnetGenerator


def build(cfg):
    """G or F of a checkpoint's flags (`cfg` = its args): the two generators have the same layers."""
    return ResnetGenerator(3, 3, cfg["ngf"], cfg["n_blocks"])


def target_size(h, w, short_side):
    """(H, W) with the shorter side at `short_side`, aspect kept, each a multiple of 4."""
    scale = short_side / min(h, w)
    return max(4, round(h * scale / 4) * 4), max(4, round(w * scale / 4) * 4)


@torch.no_grad()
def main(argv=None):
    p = translate_parser(__doc__.split("\n\n")[0], HERE)
    p.add_argument("--direction", default="AtoB", choices=["AtoB", "BtoA"], help="AtoB uses G, BtoA uses F")
    args = p.parse_args(argv)
    images = input_images(args.input)
    name = "G" if args.direction == "AtoB" else "F"
    net, cfg, device = load_net(args, "cyclegan", name, build)
    for path, image in images:
        x = to_tensor(image, device)  # (1, 3, H, W)
        x = F.interpolate(x, size=target_size(*x.shape[2:], cfg["crop_size"]), mode="bicubic", antialias=True)
        write_image(net(x.clamp(-1, 1))[0], args.out, path.name)
    print(f"translated {len(images)} image(s) with {name} into {args.out}/")


if __name__ == "__main__":
    main_guard(main)
