"""Gradient penalty of WGAN-GP (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", arXiv 1704.00028).

Shared because WGAN-GP, the conditional GAN and ProGAN must compute exactly the same thing; the critic is any
callable, so extra inputs (class labels, ProGAN's alpha and resolution) pass through `*critic_args`.
"""
import torch

from common import distributed


def gradient_penalty(critic, real, fake, *critic_args, eps=None, dtype=torch.float32, **critic_kwargs):
    """GP = E_x̂[(‖∇_x̂ C(x̂)‖₂ − 1)²],  x̂ = ε·x + (1 − ε)·x̃,  ε ~ U[0, 1] per sample  (paper, Algorithm 1).

    Returns the penalty *without* λ; the caller multiplies by λ (10 in the paper).

    - `fake` is detached: the penalty trains the critic only.
    - The norm is taken per sample over all non-batch dimensions, so the critic must not mix samples
      (no BatchNorm: the paper's Section 4 uses LayerNorm in the critic for this reason).
    - Computed in fp32 with autocast off by default (`dtype`), whatever autocast is on around it, and eagerly:
      torch.compile drops double backward. `dtype=torch.bfloat16` runs the critic's pass and both backwards under
      bf16 autocast (--gp_precision bf16 of wgan_gp and cgan; tests/test_losses.py bounds its distance from the
      fp32 penalty); the interpolates, the gradient and its norm stay fp32.
    - `eps` (shape (B,)) may be given to make the interpolation deterministic (tests, reproductions).
    """
    batch = real.shape[0]
    if eps is None:  # under torchrun: this process's share of the global batch's draw (common/distributed.py)
        eps = distributed.rand(batch, device=real.device)
    eps = eps.to(device=real.device, dtype=torch.float32).view(batch, *([1] * (real.dim() - 1)))  # (B, 1, 1, 1)
    x_hat = (eps * real.float() + (1 - eps) * fake.detach().float()).requires_grad_(True)
    # no weight cache: the critic runs once in here (nothing to reuse), and a CUDA graph cannot hold one
    with torch.autocast(device_type=real.device.type, dtype=dtype, enabled=dtype != torch.float32,
                        cache_enabled=False):
        scores = critic(x_hat, *critic_args, **critic_kwargs).float()
        (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)  # ∂C/∂x̂ per sample
    grad_norm = grad.flatten(1).norm(2, dim=1)  # (B,)
    return ((grad_norm - 1) ** 2).mean()
