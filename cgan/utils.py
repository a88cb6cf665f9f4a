"""The conditional WGAN-GP's losses (Gulrajani et al. 2017, Algorithm 1, with labels) and class-row grids."""
import torch


def critic_loss(real_scores, fake_scores, penalty, lambda_gp):
    """L_C = E[C(G(z, y), y)] − E[C(x, y)] + λ·GP   (GP from common/gradient_penalty.py, taken at (x̂, y)).

    The critic ascends the Wasserstein estimate between real and generated images of the same class."""
    return fake_scores.mean() - real_scores.mean() + lambda_gp * penalty


def generator_loss(fake_scores):
    """L_G = −E[C(G(z, y), y)]: G moves its class-y samples up the critic's class-y potential."""
    return -fake_scores.mean()


def class_rows(num_classes, per_class, z_dim, generator):
    """Noise and labels for a grid with one row per class: row k holds `per_class` samples of class k, and
    column j uses the same z in every row (so style stays fixed while the class changes down a column)."""
    z = torch.randn(per_class, z_dim, 1, 1, generator=generator).repeat(num_classes, 1, 1, 1)  # (K·n, z, 1, 1)
    labels = torch.arange(num_classes).repeat_interleave(per_class)  # (K·n,) = 0 0 … 1 1 … K−1
    return z, labels


@torch.no_grad()
def save_samples(G, fixed, run, name):
    """G(fixed z, fixed labels) as a grid with one row per class, to PNG and TensorBoard."""
    z, labels = fixed
    G.eval()
    run.save_images(G(z, labels), name, nrow=len(labels) // int(labels.max() + 1))
    G.train()
