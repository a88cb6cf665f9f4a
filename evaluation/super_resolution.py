"""Scoring a super-resolution model as the SR papers do: PSNR and SSIM on the Y channel of YCbCr, `scale` border
pixels cropped, against bicubic upsampling as the baseline (srgan/ and esrgan/ with --eval_dir, and evaluate.py)."""
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from common.data import image_files, read_image
from common.super_resolution import downscale, super_resolve, upscale


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
