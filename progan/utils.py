"""ProGAN's schedule (phases, alpha, batch sizes), losses (WGAN-GP + drift, Section A.1), the generator EMA,
and sample grids."""
import copy

import torch
import torch.nn.functional as F


def phases(max_level):
    """[(level, fading)]: 4×4 stable, then for each higher resolution a fade-in phase and a stable phase."""
    return [(0, False)] + [(lv, fade) for lv in range(1, max_level + 1) for fade in (True, False)]


def parse_batch_sizes(text):
    """"4:16,8:16,...,1024:3" → {resolution: batch size}."""
    try:
        pairs = [item.split(":") for item in text.split(",") if item.strip()]
        sizes = {int(r): int(b) for r, b in pairs}
    except ValueError:
        raise ValueError(f"--batch_sizes {text!r}: expected resolution:batch pairs, e.g. 4:16,8:16,16:16") from None
    if any(b < 1 for b in sizes.values()):
        raise ValueError(f"--batch_sizes {text!r}: batch sizes must be >= 1")
    return sizes


def batch_size_at(resolution, sizes):
    """The batch size for `resolution`: its own entry, else the entry of the nearest smaller resolution."""
    known = [r for r in sorted(sizes) if r <= resolution]
    return sizes[known[-1]] if known else sizes[min(sizes)]


def real_at(images, level, alpha, max_level):
    """Real images (B, C, R_max, R_max) → the current resolution 4·2^level by 2×2 averaging; while fading in, blended
    with the previous resolution (averaged once more and upsampled), as G's output is (Section 3, Figure 2)."""
    factor = 2 ** (max_level - level)
    x = F.avg_pool2d(images, factor) if factor > 1 else images  # (B, C, R, R)
    if alpha < 1 and level > 0:
        low = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
        x = torch.lerp(low, x, alpha)
    return x


def critic_loss(real_scores, fake_scores, penalty, lambda_gp, drift):
    """L_D = E[D(G(z))] − E[D(x)] + λ·GP + ε_drift·E[D(x)²]  (Appendix A.1: WGAN-GP with λ = 10, and the drift term
    ε_drift = 0.001 that keeps the critic's output from drifting far from zero)."""
    return fake_scores.mean() - real_scores.mean() + lambda_gp * penalty + drift * real_scores.pow(2).mean()


def generator_loss(fake_scores):
    """L_G = −E[D(G(z))]."""
    return -fake_scores.mean()


def make_ema(G):
    ema = copy.deepcopy(G)
    ema.requires_grad_(False)
    return ema


@torch.no_grad()
def ema_update(ema, G, beta):
    """θ_ema ← β·θ_ema + (1 − β)·θ (Appendix A.1: "exponential running average of the weights of G", β = 0.999);
    the samples come from θ_ema."""
    for p_ema, p in zip(ema.parameters(), G.parameters()):
        p_ema.lerp_(p, 1 - beta)


@torch.no_grad()
def save_samples(G_ema, fixed_z, level, alpha, run, name):
    """The EMA generator's images at the current resolution, enlarged to at least 64 px so small ones are visible."""
    images = G_ema(fixed_z, level, alpha).float()
    if images.shape[-1] < 64:
        images = F.interpolate(images, size=64, mode="nearest")
    run.save_images(images.clamp(-1, 1), name)
