"""WGAN-GP's losses (Gulrajani et al. 2017, Algorithm 1) and sample grids; the penalty is common/gradient_penalty."""
import torch


def critic_loss(real_scores, fake_scores, penalty, lambda_gp):
    """L_C = E[C(G(z))] − E[C(x)] + λ·GP   (Algorithm 1, line 7; GP from common/gradient_penalty.py).

    The critic ascends the Wasserstein estimate E[C(x)] − E[C(G(z))] while the penalty keeps ‖∇C‖ near 1."""
    return fake_scores.mean() - real_scores.mean() + lambda_gp * penalty


def generator_loss(fake_scores):
    """L_G = −E[C(G(z))]: G moves its samples up the critic's potential."""
    return -fake_scores.mean()


@torch.no_grad()
def save_samples(G, fixed_z, run, name):
    """G(fixed_z) as a PNG grid and a TensorBoard image, with BatchNorm's running statistics (G keeps BatchNorm)."""
    G.eval()
    run.save_images(G(fixed_z), name)
    G.train()
