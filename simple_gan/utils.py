"""The original GAN losses (Goodfellow et al. 2014, arXiv 1406.2661) and sample grids."""
import torch
import torch.nn.functional as F


def d_loss(real_logits, fake_logits):
    """L_D = −[log D(x) + log(1 − D(G(z)))] = BCE(D(x), 1) + BCE(D(G(z)), 0), with D = sigmoid(logits).

    D ascends the value function V(D, G) of the paper's Eq. 1; minimising this loss is the same thing.
    """
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def g_loss(fake_logits):
    """L_G = −log D(G(z)) = BCE(D(G(z)), 1).

    The paper's Section 3: minimising log(1 − D(G(z))) saturates early, when D confidently rejects G's samples;
    maximising log D(G(z)) has the same fixed point and much stronger gradients then.
    """
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


@torch.no_grad()
def save_samples(G, fixed_z, run, name):
    """G(fixed_z) as a PNG grid and a TensorBoard image."""
    G.eval()
    run.save_images(G(fixed_z), name)
    G.train()
