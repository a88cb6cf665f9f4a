"""AC-GAN's objective (paper, Eq. 2-3) and class-row sample grids.

L_S = E[log P(S = real | X_real)] + E[log P(S = fake | X_fake)] (the source: which images are real),
L_C = E[log P(C = c | X_real)] + E[log P(C = c | X_fake)] (the class, on real and on generated images).
D maximises L_S + L_C; G maximises L_C − L_S. Written as losses to minimise, with G's source term in the
non-saturating form −log P(S = real | X_fake), as GAN implementations train it.
"""
import torch
import torch.nn.functional as F


def d_loss(real_source, fake_source, real_classes, fake_classes, real_labels, fake_labels):
    """−(L_S + L_C) = BCE(real, 1) + BCE(fake, 0) + CE(real classes) + CE(fake classes). Returns (total, L_C part)."""
    source = (F.binary_cross_entropy_with_logits(real_source, torch.ones_like(real_source))
              + F.binary_cross_entropy_with_logits(fake_source, torch.zeros_like(fake_source)))
    classes = F.cross_entropy(real_classes, real_labels) + F.cross_entropy(fake_classes, fake_labels)
    return source + classes, classes


def g_loss(fake_source, fake_classes, fake_labels):
    """−L_C − (non-saturating) L_S for G = BCE(D_S(G(z, c)), 1) + CE(D_C(G(z, c)), c)."""
    return (F.binary_cross_entropy_with_logits(fake_source, torch.ones_like(fake_source))
            + F.cross_entropy(fake_classes, fake_labels))


def class_rows(num_classes, per_class, z_dim, generator):
    """Noise and labels for a grid with one row per class; column j has the same z in every row."""
    z = torch.randn(per_class, z_dim, generator=generator).repeat(num_classes, 1)  # (K·n, z)
    return z, torch.arange(num_classes).repeat_interleave(per_class)  # (K·n,)


@torch.no_grad()
def save_samples(G, fixed, run, name):
    """G(fixed z, fixed labels) as a grid with one row per class, to PNG and TensorBoard (eval mode)."""
    z, labels = fixed
    G.eval()
    run.save_images(G(z, labels), name, nrow=len(labels) // int(labels.max() + 1))
    G.train()
