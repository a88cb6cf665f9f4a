"""Upscale images ×4 with a trained SRGAN (or SRResNet) generator.

    python srgan/sample.py photo.png                 # → srgan/outputs/photo.png, 4× the size
    python srgan/sample.py my_folder/ --checkpoint srgan/checkpoints/psnr/last.pt   # the MSE-trained SRResNet

The default checkpoint is the GAN phase's (srgan/checkpoints/gan/last.pt), else the PSNR phase's.
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))

from common.run import main_guard
from common.sampling import input_images, load_net
from common.super_resolution import sr_parser, upscale_files
from model import SRResNet


def main(argv=None):
    args = sr_parser(__doc__.split("\n\n")[0], HERE).parse_args(argv)
    images = input_images(args.input)
    G, cfg, device = load_net(args, "srgan", "G", lambda c: SRResNet(c["n_blocks"], 64, c["scale"]))
    upscale_files(G, images, args.out, device)


if __name__ == "__main__":
    main_guard(main)
