"""pix2pix's objective (paper, Eq. 4: G* = arg min_G max_D L_cGAN(G, D) + λ L_L1(G)), learning-rate schedule,
evaluation and sample grids."""
import contextlib

import torch
import torch.nn.functional as F


def d_loss(real_logits, fake_logits):
    """L_D = ½ [BCE(D(x, y), 1) + BCE(D(x, G(x)), 0)], averaged over the 30×30 patches.

    Halved, as the paper (Section 3.3: "we divide the objective by 2 while optimizing D, which slows down the
    rate at which D learns relative to G")."""
    return 0.5 * (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                  + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def g_adv_loss(fake_logits):
    """L_cGAN for G = BCE(D(x, G(x)), 1) = −log D(x, G(x)): the non-saturating form the paper trains with."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def l1_loss(fake, target):
    """L_L1 = E‖y − G(x)‖₁ (Eq. 3), the mean absolute difference: L1 rather than L2 "encourages less
    blurring"."""
    return (fake - target).abs().mean()


def lr_factor(epoch, epochs, decay_epochs):
    """Learning-rate multiplier for 0-based `epoch`: 1 for the first `epochs − decay_epochs` epochs, then linearly
    down towards 0 over the last `decay_epochs` (the official code's `linear` policy: 1 − max(0, e + 1 − n) /
    (n_decay + 1), so the last epoch still trains at lr / (n_decay + 1))."""
    constant = epochs - decay_epochs
    return 1.0 - max(0, epoch + 1 - constant) / (decay_epochs + 1)


@contextlib.contextmanager
def paper_test_mode(G, seed=0):
    """Run G "in exactly the same manner as during the training phase" (paper, Section 3.3): dropout on and
    BatchNorm on the test batch's own statistics. The BatchNorm running buffers are restored afterwards and the
    dropout masks come from a fixed seed, so evaluating changes nothing in the training run."""
    buffers = {k: v.clone() for k, v in G.named_buffers()}
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(seed)
        G.train()
        yield G
    with torch.no_grad():
        for k, v in G.named_buffers():
            v.copy_(buffers[k])


def psnr(fake, target):
    """Peak signal-to-noise ratio in dB per image, images in [-1, 1] compared on the [0, 1] scale:
    10·log10(1 / MSE)."""
    mse = ((fake - target) / 2).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-10))


def translate_all(G, loader, device):
    """[(G(x), y)] for the (x, y) pairs of `loader`, G run as the paper tests it (paper_test_mode)."""
    with paper_test_mode(G):
        return [(G(x.to(device)).float(), y.to(device)) for x, y in loader]


def evaluate(G, loader, device):
    """Mean L1 (on the [0, 1] scale) and mean PSNR of G(x) against y over `loader`'s pairs."""
    pairs = translate_all(G, loader, device)
    l1 = torch.cat([((fake - target) / 2).abs().flatten(1).mean(1) for fake, target in pairs])
    return {"eval_L1": float(l1.mean()), "eval_PSNR": float(torch.cat([psnr(*pair) for pair in pairs]).mean())}


def test_translations(G, loader, device, direction):
    """{direction: (G(x) batches, y batches)} as uint8 for FID/KID: the translated test inputs against the real
    test targets (evaluate.py and --eval_every)."""
    from evaluation.metrics import to_uint8  # scoring only: loaded when asked for

    pairs = translate_all(G, loader, device)
    return {direction: ([to_uint8(fake) for fake, _ in pairs], [to_uint8(target) for _, target in pairs])}


def save_samples(G, source, target, run, name):
    """A grid with one row per pair: input | G(input) | target."""
    with paper_test_mode(G):
        fake = G(source)
    rows = torch.stack([source, fake.float(), target], dim=1).flatten(0, 1)  # (3N, C, H, W): in, out, target
    run.save_images(rows, name, nrow=3)
