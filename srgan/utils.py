"""SRGAN's losses (paper, Section 2.2: l^SR = l^SR_X + 10⁻³ l^SR_Gen) and sample grids."""
import torch
import torch.nn.functional as F


def mse_loss(sr, hr):
    """l^SR_MSE = mean (I^HR − G(I^LR))²: the SRResNet (PSNR-oriented) objective, Eq. 4."""
    return F.mse_loss(sr, hr)


PAPER_CONTENT_SCALE = 1 / 12.75  # the paper's rescaling of its (Caffe, [0, 255]-input) VGG19's feature maps


def content_loss(sr_features, hr_features, scale=PAPER_CONTENT_SCALE):
    """l^SR_VGG/5.4: MSE between VGG19 φ5,4 features (after its ReLU) of G(I^LR) and I^HR, Eq. 5, with the
    feature maps rescaled (the paper: by 1/12.75, "to obtain VGG losses of a scale that is comparable to the
    MSE loss"; --content_scale)."""
    return F.mse_loss(sr_features * scale, hr_features * scale)


def backward_by_term(output, terms, scaler):
    """Backpropagate sum(terms) into the net that produced `output` (the SR image) through ∂term/∂output of each
    term separately, then one backward through that net: the cost of a plain backward, and the norm of the
    gradient each term sends into the image, (B, 3, H, W) → one scalar per term (what the paper's 1/12.75 and
    10⁻³ balance). `scaler`: the fp16 GradScaler (a no-op otherwise); the norms are unscaled."""
    scale = scaler.scale(torch.ones((), device=output.device))  # a tensor: no host sync
    grads = [torch.autograd.grad(scaler.scale(term), output, retain_graph=True)[0] for term in terms]
    output.backward(sum(grads))
    return [g.float().norm() / scale for g in grads]


def d_loss(real_logits, fake_logits):
    """D: maximize log D(I^HR) + log(1 − D(G(I^LR))) (Eq. 2) = BCE(real, 1) + BCE(fake, 0)."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def g_adv_loss(fake_logits):
    """l^SR_Gen = −log D(G(I^LR)) (Eq. 6), the non-saturating form."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


@torch.no_grad()
def save_samples(G, lr, hr, run, name):
    """One row per crop: LR (enlarged, nearest) | G(LR) | HR, in BatchNorm's eval mode."""
    G.eval()
    sr = G(lr).float().clamp(0, 1)
    G.train()
    big = F.interpolate(lr, size=hr.shape[-2:], mode="nearest")
    run.save_images(torch.stack([big, sr, hr], 1).flatten(0, 1) * 2 - 1, name, nrow=3)  # save_images wants [-1, 1]
