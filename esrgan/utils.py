"""ESRGAN's losses (paper, Section 3: relativistic average discriminator, perceptual loss before activation,
L_G = L_percep + λ L_G^Ra + η L1 with λ = 5·10⁻³, η = 10⁻²), learning-rate steps, network interpolation, and
sample grids."""
import torch
import torch.nn.functional as F


def l1_loss(sr, hr):
    """L1 = E‖G(x_i) − y‖₁: the PSNR-oriented phase's loss and the η-weighted content term of the GAN phase."""
    return (sr - hr).abs().mean()


def perceptual_loss(sr_features, hr_features):
    """L_percep: L1 between VGG19 conv5_4 features *before* the ReLU (Section 3.3: the activated features are
    sparse and give weaker supervision), as the official code (L1 feature criterion)."""
    return (sr_features - hr_features).abs().mean()


def d_loss_ra(real_scores, fake_scores):
    """Relativistic average D (Eq. 1-2): D_Ra(x_r, x_f) = σ(C(x_r) − E[C(x_f)]);
    L_D = −E[log D_Ra(x_r, x_f)] − E[log(1 − D_Ra(x_f, x_r))], halved as the official code."""
    return 0.5 * (F.binary_cross_entropy_with_logits(real_scores - fake_scores.mean(), torch.ones_like(real_scores))
                  + F.binary_cross_entropy_with_logits(fake_scores - real_scores.mean(),
                                                       torch.zeros_like(fake_scores)))


def g_loss_ra(real_scores, fake_scores):
    """L_G^Ra = −E[log(1 − D_Ra(x_r, x_f))] − E[log D_Ra(x_f, x_r)] (Eq. 3): G benefits from the gradients of
    both real and generated data. `real_scores` should be detached (this step trains G only)."""
    return 0.5 * (F.binary_cross_entropy_with_logits(real_scores - fake_scores.mean(), torch.zeros_like(real_scores))
                  + F.binary_cross_entropy_with_logits(fake_scores - real_scores.mean(), torch.ones_like(fake_scores)))


def lr_factor(iteration, milestones):
    """½ for every milestone passed (Section 4.1: PSNR phase halved every 2·10⁵ iterations; GAN phase at 50k,
    100k, 200k, 300k)."""
    return 0.5 ** sum(iteration >= m for m in milestones)


def interpolate_state(psnr_state, gan_state, alpha):
    """Network interpolation (Section 3.4): θ_interp = (1 − α) θ_PSNR + α θ_GAN, parameter by parameter."""
    return {k: torch.lerp(psnr_state[k].float(), gan_state[k].float(), alpha).to(gan_state[k].dtype)
            for k in gan_state}


@torch.no_grad()
def save_samples(G, lr, hr, run, name):
    """One row per crop: LR (enlarged, nearest) | G(LR) | HR."""
    sr = G(lr).float().clamp(0, 1)
    big = F.interpolate(lr, size=hr.shape[-2:], mode="nearest")
    run.save_images(torch.stack([big, sr, hr], 1).flatten(0, 1) * 2 - 1, name, nrow=3)  # save_images wants [-1, 1]
