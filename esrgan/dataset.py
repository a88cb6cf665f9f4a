"""ESRGAN's input pipeline: random 128×128 HR crops of any folder of HR images (DIV2K + Flickr2K in the paper),
random flips and 90° rotations, LR by bicubic downscaling ×4 (32×32), both in [0, 1] (paper, Section 4.1). The
pipeline itself is common/super_resolution.py (srgan and esrgan must make LR images identically)."""
from common.super_resolution import SRCrops


def make_dataset(args):
    return SRCrops(args.data_root, args.hr_size, args.scale, rotate=True,
                   crops_per_image=args.crops_per_image)
