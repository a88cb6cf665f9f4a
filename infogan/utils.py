"""InfoGAN's latent codes, losses (the GAN objective minus λ times the mutual-information lower bound, Eq. 6),
and its sample grids.

The latent is (z, c): z 62 noise dims ~ U(−1, 1), c1 a 10-way categorical code (one-hot), c2 and c3 continuous
codes ~ U(−1, 1) (paper, Section 7.1 and Appendix C.1; the official run_mnist_exp.py). Q(c|x) is a categorical
for c1 and a factored Gaussian for c2, c3 with σ fixed at 1 (or learned, --learn_sigma).
"""
import math

import torch
import torch.nn.functional as F


def sample_latent(n, cfg, device, generator=None, cat=None, cont=None):
    """(latent (n, 74), categories (n,), continuous codes (n, 2)); `cat` / `cont` fix the codes (grids)."""
    noise = torch.rand(n, cfg["noise_dim"], device=device, generator=generator) * 2 - 1  # (n, 62)
    if cat is None:
        cat = torch.randint(cfg["n_cat"], (n,), device=device, generator=generator)  # (n,)
    if cont is None:
        cont = torch.rand(n, cfg["n_cont"], device=device, generator=generator) * 2 - 1  # (n, 2)
    one_hot = F.one_hot(cat, cfg["n_cat"]).float()  # (n, 10)
    return torch.cat([noise, one_hot, cont], dim=1), cat, cont


def d_loss(real_logits, fake_logits):
    """L_D = −[log D(x) + log(1 − D(G(z, c)))] = BCE(D(x), 1) + BCE(D(G(z, c)), 0)."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def g_loss(fake_logits):
    """L_G = −log D(G(z, c)), the non-saturating form (the official code's generator_loss)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def info_loss(q, cat, cont):
    """−L_I without its constant: the negative log-likelihood of the codes fed to G under Q's prediction,
    E[−log Q(c1|x)] + E[−log Q(c2, c3|x)] (Lemma 5.1: L_I = E log Q(c|x) + H(c) ≤ I(c; G(z, c)), and H(c) is
    fixed by the prior). Categorical: cross-entropy. Continuous: the Gaussian log-likelihood with Q's mean and σ
    (fixed at 1, or Q's log-σ), summed over the codes and averaged over the batch, as the official code."""
    cat_logits, mean, log_std = q
    cat_nll = F.cross_entropy(cat_logits, cat)
    if log_std is None:
        log_std = torch.zeros_like(mean)
    z = (cont - mean) * torch.exp(-log_std)
    cont_nll = (0.5 * math.log(2 * math.pi) + log_std + 0.5 * z.pow(2)).sum(1).mean()
    return cat_nll, cont_nll


def mutual_information_bound(cat_nll, cont_nll, cfg):
    """L_I = H(c) − E[−log Q(c|x)] for the prior's entropy H(c): log 10 for the categorical code, log 2 for each
    U(−1, 1) code (differential entropy). Logged: it rises towards H(c1) = log 10 as Q learns to read c1."""
    return math.log(cfg["n_cat"]) - cat_nll + cfg["n_cont"] * math.log(2) - cont_nll


def figure_latents(cfg, steps, code, device, seed=0, lo=-2.0, hi=2.0):
    """The paper's Figure 2 grid: row k has c1 = k, column j has the continuous code `code` (0-based) at
    lo + j (hi − lo) / (steps − 1) and the other at 0; one noise vector for the whole grid."""
    g = torch.Generator(device=device).manual_seed(seed)
    n_cat = cfg["n_cat"]
    noise = (torch.rand(1, cfg["noise_dim"], device=device, generator=g) * 2 - 1).expand(n_cat * steps, -1)
    cat = torch.arange(n_cat, device=device).repeat_interleave(steps)  # 0 0 … 1 1 …
    cont = torch.zeros(n_cat * steps, cfg["n_cont"], device=device)
    cont[:, code] = torch.linspace(lo, hi, steps, device=device).repeat(n_cat)
    return torch.cat([noise, F.one_hot(cat, n_cat).float(), cont], dim=1)  # (10·steps, 74)


@torch.no_grad()
def save_samples(G, latents, steps, run, name):
    """The Figure-2 grid of `latents` (rows: c1, columns: a continuous code's sweep) in eval mode."""
    G.eval()
    run.save_images(G(latents), name, nrow=steps)
    G.train()


def categorical_match_error(predicted, categories, n_cat=10, n_classes=10):
    """1 − accuracy of the best one-to-one mapping of c1's values to predicted digits (Hungarian matching): the
    paper's "5% error rate" measurement (Section 7.1). Returns (error, mapping {category: digit})."""
    from scipy.optimize import linear_sum_assignment

    counts = torch.zeros(n_cat, n_classes, dtype=torch.long)
    counts.index_put_((categories.cpu(), predicted.cpu()), torch.ones(len(predicted), dtype=torch.long),
                      accumulate=True)
    rows, cols = linear_sum_assignment(counts.numpy(), maximize=True)
    matched = int(counts[rows, cols].sum())
    return 1 - matched / len(predicted), {int(r): int(c) for r, c in zip(rows, cols)}
