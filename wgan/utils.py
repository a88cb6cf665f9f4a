"""WGAN's losses and weight clipping (Arjovsky et al. 2017, Algorithm 1), and sample grids."""
import torch


def critic_loss(real_scores, fake_scores):
    """L_C = −(E[C(x)] − E[C(G(z))]): the critic ascends the Wasserstein estimate, so it descends its negative.
    −L_C is the running estimate of W(P_r, P_g) (up to the Lipschitz constant) that the paper plots."""
    return fake_scores.mean() - real_scores.mean()


def generator_loss(fake_scores):
    """L_G = −E[C(G(z))]: G moves its samples up the critic's potential."""
    return -fake_scores.mean()


@torch.no_grad()
def clip_weights(critic, c):
    """w ← clip(w, −c, c) for every critic parameter (Algorithm 1, line 7): a crude way to bound the critic's
    Lipschitz constant, which the paper itself calls "clearly terrible" and WGAN-GP replaces."""
    for p in critic.parameters():
        p.clamp_(-c, c)


@torch.no_grad()
def save_samples(G, fixed_z, run, name):
    """G(fixed_z) as a PNG grid and a TensorBoard image, with BatchNorm's running statistics."""
    G.eval()
    run.save_images(G(fixed_z), name)
    G.train()
