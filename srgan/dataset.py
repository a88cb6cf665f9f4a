"""SRGAN's input pipeline: random 96×96 HR crops of any folder of HR images (DIV2K, Flickr2K, ImageNet photos),
with a random horizontal flip, and their 24×24 LR versions by bicubic downscaling ×4, both in [0, 1]
(paper, Section 3.2: "random 96 × 96 HR sub images ... obtained the LR images by downsampling the HR images
(BGR, C = 3) using bicubic kernel with downsampling factor r = 4"). The pipeline itself is common/super_resolution.py
(srgan and esrgan must make LR images identically); this file sets the paper's sizes."""
from common.super_resolution import SRCrops


def make_dataset(args):
    return SRCrops(args.data_root, args.hr_size, args.scale, rotate=False,
                   crops_per_image=args.crops_per_image)
