"""WGAN-GP generator and critic: the DCGAN architecture at 64×64, with layer normalization in the critic.

Gulrajani, Ahmed, Arjovsky, Dumoulin, Courville, "Improved Training of Wasserstein GANs", NeurIPS 2017,
https://arxiv.org/abs/1704.00028

The critic is kept 1-Lipschitz by a gradient penalty instead of weight clipping. The penalty constrains the
gradient norm of each sample independently, so the critic must not mix samples: Section 4 drops BatchNorm
from the critic and recommends layer normalization instead, which is what this critic uses.

Differences from the paper:
- G and the critic are this collection's DCGAN nets (G 1024 → 128 channels, critic 64 → 512), with N(0, 0.02)
  initialisation; the paper's own image experiments use DCGAN and ResNet variants of its own.
- Layer normalization is nn.GroupNorm(1, C): statistics over (C, H, W) of each sample, with one learned scale and
  shift per channel (the LayerNorm of the paper's reference code normalises the same way).
"""
import torch
from torch import nn


class Generator(nn.Module):
    """z (B, z_dim, 1, 1) → image (B, channels, 64, 64) in [-1, 1]."""

    def __init__(self, z_dim=100, channels=3, ngf=128):
        super().__init__()

        def up(c_in, c_out):  # fractionally-strided conv: doubles H and W
            return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]

        self.net = nn.Sequential(
            nn.ConvTranspose2d(z_dim, ngf * 8, 4, 1, 0, bias=False),  # (B, 1024, 4, 4)
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            *up(ngf * 8, ngf * 4),  # (B, 512, 8, 8)
            *up(ngf * 4, ngf * 2),  # (B, 256, 16, 16)
            *up(ngf * 2, ngf),  # (B, 128, 32, 32)
            nn.ConvTranspose2d(ngf, channels, 4, 2, 1, bias=False),  # (B, C, 64, 64)
            nn.Tanh(),
        )

    def forward(self, z):
        return self.net(z)


class Critic(nn.Module):
    """image (B, channels, 64, 64) → score (B,), unbounded; no BatchNorm (the penalty is per sample)."""

    def __init__(self, channels=3, ndf=64):
        super().__init__()

        def down(c_in, c_out):  # strided conv: halves H and W
            layer_norm = nn.GroupNorm(1, c_out)  # one group = normalise over (C, H, W) of each sample
            return [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), layer_norm, nn.LeakyReLU(0.2, True)]

        self.net = nn.Sequential(
            nn.Conv2d(channels, ndf, 4, 2, 1, bias=False),  # (B, 64, 32, 32)
            nn.LeakyReLU(0.2, True),
            *down(ndf, ndf * 2),  # (B, 128, 16, 16)
            *down(ndf * 2, ndf * 4),  # (B, 256, 8, 8)
            *down(ndf * 4, ndf * 8),  # (B, 512, 4, 4)
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),  # (B, 1, 1, 1)
        )

    def forward(self, x):
        return self.net(x).flatten()  # (B,) scores


def init_weights(module):
    """N(0, 0.02) convolutions, N(1, 0.02) normalisation scales (the DCGAN initialisation)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def shape_check(batch=2, z_dim=100, channels=3):
    """Default-config shapes, as in the README's layer table."""
    G, C = Generator(z_dim, channels), Critic(channels)
    x = G(torch.randn(batch, z_dim, 1, 1))
    assert x.shape == (batch, channels, 64, 64), x.shape
    assert C(x).shape == (batch,), C(x).shape
    return x.shape, C(x).shape


if __name__ == "__main__":
    print(shape_check())
