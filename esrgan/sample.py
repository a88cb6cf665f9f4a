"""Upscale images ×4 with a trained ESRGAN, optionally interpolating between the PSNR and GAN generators.

    python esrgan/sample.py photo.png                       # the GAN phase's generator → esrgan/outputs/photo.png
    python esrgan/sample.py my_folder/ --interp_alpha 0.8   # θ = 0.2·θ_PSNR + 0.8·θ_GAN (paper, Section 3.4)

--interp_alpha 0 is the PSNR model, 1 the GAN model; values between trade artifacts for sharpness without
retraining. The default checkpoint is the GAN phase's (esrgan/checkpoints/gan/last.pt), else the PSNR phase's.
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))

from common.checkpoint import load_checkpoint, load_state
from common.errors import UserError
from common.run import main_guard
from common.sampling import input_images, load_net
from common.super_resolution import sr_parser, upscale_files
from model import RRDBNet
from utils import interpolate_state


def unit_interval(text):
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError(text)
    return value


def main(argv=None):
    p = sr_parser(__doc__.split("\n\n")[0], HERE)
    p.add_argument("--interp_alpha", type=unit_interval, default=None,
                   help="blend the weights: (1 − α)·PSNR + α·GAN, α in [0, 1]; paper's examples: 0.8")
    p.add_argument("--psnr_checkpoint", default=str(HERE / "checkpoints" / "psnr" / "last.pt"),
                   help="the PSNR phase's checkpoint, for --interp_alpha")
    args = p.parse_args(argv)
    images = input_images(args.input)
    G, cfg, device = load_net(args, "esrgan", "G", lambda c: RRDBNet(c["n_blocks"], c["nf"], c["gc"], c["scale"]))
    if args.interp_alpha is not None:
        psnr = load_checkpoint(args.psnr_checkpoint, "esrgan")
        if psnr["args"]["phase"] != "psnr" or cfg["phase"] != "gan":
            raise UserError(f"--interp_alpha blends a PSNR-phase checkpoint (--psnr_checkpoint, here phase "
                            f"{psnr['args']['phase']}) with a GAN-phase one (--checkpoint, here phase {cfg['phase']})")
        blended = interpolate_state(psnr["nets"]["G"], {k: v.cpu() for k, v in G.state_dict().items()},
                                    args.interp_alpha)
        load_state(G, blended, "G", args.psnr_checkpoint)
        print(f"network interpolation: {1 - args.interp_alpha:.2f}·PSNR + {args.interp_alpha:.2f}·GAN")
    upscale_files(G, images, args.out, device)


if __name__ == "__main__":
    main_guard(main)
