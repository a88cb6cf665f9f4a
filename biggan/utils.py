"""BigGAN's losses (hinge), the modified orthogonal regularisation, the truncation trick, the EMA of G with
standing BatchNorm statistics, and the class-row sample grids."""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {  # flag defaults per --config (README: which comes from where)
    "imagenet128": dict(resolution=128, ch=96, dim_z=120, shared_dim=128, attention=64, batch_size=256,
                        ema_start=20000, dataset="folder"),
    "cifar32": dict(resolution=32, ch=64, dim_z=128, shared_dim=128, attention=0, batch_size=64, ema_start=1000,
                    dataset="cifar10"),
}


def d_hinge(real_logits, fake_logits):
    """L_D = E[max(0, 1 − D(x, y))] + E[max(0, 1 + D(G(z), y))] (the hinge loss of Lim & Ye / SAGAN)."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def g_hinge(fake_logits):
    """L_G = −E[D(G(z), y)]."""
    return -fake_logits.mean()


def orthogonal_regulariser(weights, beta):
    """R_β(W) = β ‖WᵀW ⊙ (1 − I)‖²_F summed over `weights` (Section 3.1): the filters' pairwise cosines pushed to
    0 but not their norms (the diagonal is left out). W is read as (filters, fan-in), so PyTorch's (out, in, k, k)
    weight gives W Wᵀ over its rows; 0 for orthogonal filters."""
    total = 0.0
    for w in weights:
        w = w.float().flatten(1)  # (filters, fan-in)
        gram = w @ w.t()  # (filters, filters)
        total = total + (gram * (1 - torch.eye(len(gram), device=w.device))).pow(2).sum()
    return beta * total


def regularised_weights(G):
    """The weights the orthogonal regulariser reads: every ≥ 2-d parameter of G but the shared class embedding
    (BigGAN-PyTorch's blacklist), i.e. the raw weights beneath the spectral normalisation."""
    shared = {id(p) for p in G.shared.parameters()}
    return [p for p in G.parameters() if p.dim() >= 2 and id(p) not in shared]


def truncated_noise(n, dim, threshold=None, generator=None, device=None):
    """z ~ N(0, I); with `threshold` t the truncation trick (Section 3.1): every entry with |z| > t is drawn again,
    until all lie within [−t, t] (only those entries; the others keep their values)."""
    z = torch.randn(n, dim, generator=generator, device=device)
    if threshold is not None:
        outside = z.abs() > threshold
        while outside.any():
            z[outside] = torch.randn(int(outside.sum()), generator=generator, device=device)
            outside = z.abs() > threshold
    return z


def make_ema(G):
    ema = copy.deepcopy(G)
    ema.requires_grad_(False)
    return ema


@torch.no_grad()
def ema_update(ema, G, decay, step, start):
    """G's weights averaged for sampling (decay 0.9999), from step `start` on; before it the copy follows G
    exactly (BigGAN-PyTorch's ema_start). Like BigGAN-PyTorch, every floating tensor of the state is averaged:
    parameters, BatchNorm running statistics and the spectral norm's power-iteration vectors."""
    decay = decay if step >= start else 0.0
    own = ema.state_dict()
    for name, value in G.state_dict().items():
        if value.is_floating_point():
            own[name].lerp_(value, 1 - decay)
        else:
            own[name].copy_(value)


@torch.no_grad()
def standing_copy(G, n_batches=16, batch=64, generator=None):
    """A copy of G whose BatchNorms hold "standing statistics" (Appendix C): the running mean and variance reset,
    then averaged over `n_batches` forward passes of random z and classes, instead of the moving averages of
    training. Only BatchNorm runs in training mode meanwhile (the spectral norm's vectors do not move); `G` itself
    is untouched. Returns the copy in eval mode."""
    G = copy.deepcopy(G).eval()
    device = next(G.parameters()).device
    norms = [m for m in G.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the passes
        bn.train()
    for _ in range(n_batches):
        z = torch.randn(batch, G.dim_z, device=device, generator=generator)
        y = torch.randint(G.n_classes, (batch,), device=device, generator=generator)
        G(z, y)
    for bn in norms:
        bn.eval()
    return G


def class_rows(n_classes, per_class, dim_z, threshold=None, generator=None):
    """z and labels for a grid with one row per class (at most 10 rows), the same z down each column."""
    classes = torch.arange(min(n_classes, 10))
    z = truncated_noise(per_class, dim_z, threshold, generator).repeat(len(classes), 1)  # (K·n, dim_z)
    return z, classes.repeat_interleave(per_class)


@torch.no_grad()
def save_samples(G_ema, fixed, run, name):
    """The EMA generator's images of the fixed z and classes (one row per class), with its training-time
    BatchNorm statistics (standing statistics are for sample.py and the evaluations)."""
    z, labels = fixed
    G_ema.eval()
    run.save_images(G_ema(z, labels), name, nrow=len(labels) // int(labels.max() + 1))
