"""The relativistic GAN losses (Jolicoeur-Martineau 2018, arXiv 1807.00734) and sample grids.

C is the critic's raw score (D's output before any sigmoid). A standard GAN's D estimates "x is real"; a
relativistic D estimates "x is more realistic than the fakes" (RSGAN: than one fake; relativistic average: than
the average fake, E C(G(z))), and G is trained on the same quantity with real and fake swapped, so G's loss also
pushes the real images' scores down: the "missing key element" of the paper's title. Each loss takes the scores of
one real and one fake batch, (B,) each. The official code (AlexiaJM/RelativisticGAN, GAN_losses_iter.py, losses
5-8) halves the two-term losses; so do these.
"""
import torch
import torch.nn.functional as F

LOSSES = ("rsgan", "rasgan", "ralsgan", "rahinge")


def rsgan(real, fake):
    """RSGAN (Eq. 5): L_D = −E log σ(C(x_r) − C(x_f)); L_G = −E log σ(C(x_f) − C(x_r)). Returns (L_D, L_G)."""
    ones = torch.ones_like(real)
    return (F.binary_cross_entropy_with_logits(real - fake, ones),
            F.binary_cross_entropy_with_logits(fake - real, ones))


def rasgan(real, fake):
    """RaSGAN (Eq. 7-8), with D_Ra(x_r, x_f) = σ(C(x_r) − E C(x_f)):
    L_D = −½ [E log D_Ra(x_r, x_f) + E log(1 − D_Ra(x_f, x_r))];
    L_G = −½ [E log D_Ra(x_f, x_r) + E log(1 − D_Ra(x_r, x_f))]."""
    real_rel, fake_rel = real - fake.mean(), fake - real.mean()
    ones, zeros = torch.ones_like(real), torch.zeros_like(real)
    loss_D = 0.5 * (F.binary_cross_entropy_with_logits(real_rel, ones)
                    + F.binary_cross_entropy_with_logits(fake_rel, zeros))
    loss_G = 0.5 * (F.binary_cross_entropy_with_logits(fake_rel, ones)
                    + F.binary_cross_entropy_with_logits(real_rel, zeros))
    return loss_D, loss_G


def ralsgan(real, fake):
    """RaLSGAN (Appendix A): L_D = ½ [E (C(x_r) − E C(x_f) − 1)² + E (C(x_f) − E C(x_r) + 1)²];
    L_G = ½ [E (C(x_f) − E C(x_r) − 1)² + E (C(x_r) − E C(x_f) + 1)²]."""
    real_rel, fake_rel = real - fake.mean(), fake - real.mean()
    loss_D = 0.5 * ((real_rel - 1).pow(2).mean() + (fake_rel + 1).pow(2).mean())
    loss_G = 0.5 * ((fake_rel - 1).pow(2).mean() + (real_rel + 1).pow(2).mean())
    return loss_D, loss_G


def rahinge(real, fake):
    """RaHingeGAN (Appendix A): L_D = ½ [E max(0, 1 − (C(x_r) − E C(x_f))) + E max(0, 1 + (C(x_f) − E C(x_r)))];
    L_G = ½ [E max(0, 1 − (C(x_f) − E C(x_r))) + E max(0, 1 + (C(x_r) − E C(x_f)))]."""
    real_rel, fake_rel = real - fake.mean(), fake - real.mean()
    loss_D = 0.5 * (F.relu(1 - real_rel).mean() + F.relu(1 + fake_rel).mean())
    loss_G = 0.5 * (F.relu(1 - fake_rel).mean() + F.relu(1 + real_rel).mean())
    return loss_D, loss_G


def relativistic_loss(name):
    """The (L_D, L_G) function of `--loss name`."""
    return {"rsgan": rsgan, "rasgan": rasgan, "ralsgan": ralsgan, "rahinge": rahinge}[name]


@torch.no_grad()
def save_samples(G, fixed_z, run, name):
    """G(fixed_z) as a PNG grid and a TensorBoard image; eval mode so BatchNorm uses its running statistics."""
    G.eval()
    run.save_images(G(fixed_z), name)
    G.train()
