"""LSGAN's losses (Mao et al. 2017, arXiv 1611.04076, Eq. 2) and sample grids.

D minimises ½ E[(D(x) − b)²] + ½ E[(D(G(z)) − a)²] and G minimises ½ E[(D(G(z)) − c)²], D's raw score compared
with the codes a (fake), b (real) and c (what G wants D to believe). Two codings from the paper (Section 3.2):
- "0-1-1" (a = 0, b = c = 1): G makes its samples "as real as possible" (the paper's experiments use it);
- "pearson" (a = −1, b = 1, c = 0): b − c = 1 and b − a = 2, the conditions under which minimising the objective
  minimises the Pearson χ² divergence between p_data + p_g and 2 p_g (Section 3.2.2).
"""
import torch

CODINGS = {"0-1-1": (0.0, 1.0, 1.0), "pearson": (-1.0, 1.0, 0.0)}  # (a, b, c)


def d_loss(real_scores, fake_scores, a, b):
    """L_D = ½ E[(D(x) − b)²] + ½ E[(D(G(z)) − a)²]."""
    return 0.5 * (real_scores - b).pow(2).mean() + 0.5 * (fake_scores - a).pow(2).mean()


def g_loss(fake_scores, c):
    """L_G = ½ E[(D(G(z)) − c)²]."""
    return 0.5 * (fake_scores - c).pow(2).mean()


@torch.no_grad()
def save_samples(G, fixed_z, run, name):
    """G(fixed_z) as a PNG grid and a TensorBoard image; eval mode so BatchNorm uses its running statistics."""
    G.eval()
    run.save_images(G(fixed_z), name)
    G.train()
