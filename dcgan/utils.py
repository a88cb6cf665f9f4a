"""DCGAN's losses (the original GAN objective of Goodfellow et al. 2014, arXiv 1406.2661) and sample grids."""
import torch
import torch.nn.functional as F


def d_loss(real_logits, fake_logits):
    """L_D = −[log D(x) + log(1 − D(G(z)))] = BCE(D(x), 1) + BCE(D(G(z)), 0), with D = sigmoid(logits).

    The sum of the two batch means, as in the reference implementation (errD = errD_real + errD_fake).
    """
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def g_loss(fake_logits):
    """L_G = −log D(G(z)) = BCE(D(G(z)), 1): the non-saturating loss (Goodfellow et al., Section 3), which
    gives G strong gradients early on, when D rejects its samples with confidence."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


@torch.no_grad()
def save_samples(G, fixed_z, run, name):
    """G(fixed_z) as a PNG grid and a TensorBoard image; eval mode so BatchNorm uses its running statistics."""
    G.eval()
    run.save_images(G(fixed_z), name)
    G.train()
