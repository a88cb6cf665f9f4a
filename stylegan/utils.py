"""StyleGAN's schedule (phases from 8×8, per-resolution batch sizes and learning rates), losses (the FFHQ
configuration: non-saturating logistic loss with R1; ProGAN's WGAN-GP as an option), style mixing, the moving
averages (G's weights, w̄) and sample grids."""
import copy

import torch
import torch.nn.functional as F


def phases(max_level, start_level=1):
    """[(level, fading)]: the start resolution stable, then for each higher one a fade-in phase and a stable phase
    (the official schedule starts at 8×8: lod_initial_resolution = 8)."""
    return [(start_level, False)] + [(lv, fade) for lv in range(start_level + 1, max_level + 1)
                                     for fade in (True, False)]


def parse_table(text, kind, flag):
    """"4:512,8:256" → {resolution: value} with `kind` values (int batch sizes, float learning rates)."""
    try:
        pairs = [item.split(":") for item in text.split(",") if item.strip()]
        table = {int(r): kind(v) for r, v in pairs}
    except ValueError:
        raise ValueError(f"{flag} {text!r}: expected resolution:value pairs, e.g. 4:512,8:256,16:128") from None
    if not table or any(v <= 0 for v in table.values()):
        raise ValueError(f"{flag} {text!r}: values must be positive")
    return table


def value_at(resolution, table):
    """The table's entry for `resolution`, else the entry of the nearest smaller resolution (else the smallest)."""
    known = [r for r in sorted(table) if r <= resolution]
    return table[known[-1]] if known else table[min(table)]


def real_at(images, level, alpha, max_level):
    """Real images (B, C, R_max, R_max) → the current resolution 4·2^level by 2×2 averaging; while fading in, blended
    with the previous resolution (averaged once more and upsampled), as G's output is (ProGAN, Figure 2)."""
    factor = 2 ** (max_level - level)
    x = F.avg_pool2d(images, factor) if factor > 1 else images  # (B, C, R, R)
    if alpha < 1 and level > 0:
        low = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
        x = torch.lerp(low, x, alpha)
    return x


def mixing_crossover(layers_in_use, prob, generator=None):
    """Style mixing regularisation (Section 3.1): with probability `prob` (0.9) a minibatch uses two latents, z1
    for the layers before a crossover point drawn uniformly from [1, layers in use) and z2 from there on; else
    one latent (None). One draw per minibatch, from the CPU generator, as the official code's."""
    if layers_in_use < 2 or torch.rand((), generator=generator).item() >= prob:
        return None
    return int(torch.randint(1, layers_in_use, (), generator=generator))


# ----------------------------------------------------------------------------------------------- losses
def d_logistic(real_logits, fake_logits):
    """D's non-saturating logistic loss: E[softplus(D(G(z)))] + E[softplus(−D(x))] = −E log(1 − σ(D(G(z))))
    − E log σ(D(x)) (the official D_logistic_simplegp without its penalty)."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def g_logistic(fake_logits):
    """G's non-saturating loss: E[softplus(−D(G(z)))] = −E log σ(D(G(z)))."""
    return F.softplus(-fake_logits).mean()


def r1_penalty(D, real, *critic_args):
    """R1 (Mescheder et al. 2018): E_x ‖∇_x D(x)‖² on the real images; the D loss adds γ/2 times it (γ = 10 for
    FFHQ). Computed eagerly in fp32 with autocast off, as the gradient penalties elsewhere here: a bf16 double
    backward loses the small gradients. Returns (logits D(x) (B,), penalty): the logistic loss reuses the logits."""
    x = real.detach().float().requires_grad_(True)
    with torch.autocast(device_type=real.device.type, enabled=False):
        logits = D(x, *critic_args).float()  # (B,)
        (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)  # ∂D/∂x per sample
    return logits, grad.pow(2).flatten(1).sum(1).mean()


def d_loss_r1(real_logits, fake_logits, r1, gamma):
    """The FFHQ configuration's D loss: logistic + γ/2 · R1."""
    return d_logistic(real_logits, fake_logits) + gamma / 2 * r1


def critic_loss(real_scores, fake_scores, penalty, lambda_gp, drift):
    """--loss wgan-gp (the CelebA-HQ configuration, ProGAN's): E[D(G(z))] − E[D(x)] + λ·GP + ε_drift·E[D(x)²]."""
    return fake_scores.mean() - real_scores.mean() + lambda_gp * penalty + drift * real_scores.pow(2).mean()


def g_wgan(fake_scores):
    """--loss wgan-gp: L_G = −E[D(G(z))]."""
    return -fake_scores.mean()


# ----------------------------------------------------------------------------------------------- averages
def make_ema(G):
    ema = copy.deepcopy(G)
    ema.requires_grad_(False)
    return ema


def ema_beta(batch_size, half_life_kimg=10.0):
    """The official G_smoothing: β = 0.5^(batch / (10,000 images)), a half-life of 10k images whatever the batch
    (0.9989 at batch 16, 0.9978 at 32)."""
    return 0.5 ** (batch_size / (half_life_kimg * 1000))


@torch.no_grad()
def ema_update(ema, G, beta):
    """θ_ema ← β·θ_ema + (1 − β)·θ for the parameters; the buffers (w̄, the fixed noise) are copied, as the
    official code copies non-trainable variables into its averaged generator."""
    for p_ema, p in zip(ema.parameters(), G.parameters()):
        p_ema.lerp_(p, 1 - beta)
    for b_ema, b in zip(ema.buffers(), G.buffers()):
        b_ema.copy_(b)


@torch.no_grad()
def track_w_avg(G, w, beta=0.995):
    """w̄ ← β·w̄ + (1 − β)·mean of the batch's w (the official dlatent_avg, β 0.995): the centre the truncation
    trick pulls toward."""
    G.w_avg.lerp_(w.detach().float().mean(0), 1 - beta)


@torch.no_grad()
def save_samples(G_ema, fixed_z, level, alpha, run, name):
    """The EMA generator's images (no truncation, fixed noise) at the current resolution, enlarged to at least 64 px
    so small ones are visible."""
    images = G_ema(fixed_z, level, alpha, noise_mode="const").float()
    if images.shape[-1] < 64:
        images = F.interpolate(images, size=64, mode="nearest")
    run.save_images(images.clamp(-1, 1), name)
