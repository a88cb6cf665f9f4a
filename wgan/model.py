"""WGAN generator and critic: the DCGAN architecture at 64×64, with a critic that outputs an unbounded score.

Arjovsky, Chintala, Bottou, "Wasserstein GAN", ICML 2017, https://arxiv.org/abs/1701.07875

The critic C approximates the Wasserstein-1 distance W(P_r, P_g) = max_{‖C‖_L ≤ 1} E_x[C(x)] − E_z[C(G(z))];
it is kept (roughly) K-Lipschitz by clipping every weight to [−c, c] after each update (utils.clip_weights).
The paper's experiments use the DCGAN nets (its Section 4), which is what this file holds.

Differences from the paper:
- G and the critic are this collection's DCGAN nets (G 1024 → 128 channels, critic 64 → 512), with N(0, 0.02)
  initialisation; the critic's last layer is a 4×4 convolution to one score, with no sigmoid (a critic, not a
  classifier).
- The critic keeps BatchNorm, as the paper's DCGAN critic does; wgan_gp/ replaces it because its penalty is
  per sample.
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
    """image (B, channels, 64, 64) → score (B,), unbounded: an estimate of the Wasserstein potential."""

    def __init__(self, channels=3, ndf=64):
        super().__init__()

        def down(c_in, c_out):  # strided conv: halves H and W
            return [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2, True)]

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
    """N(0, 0.02) convolutions, N(1, 0.02) BatchNorm scales (the DCGAN initialisation of the paper's nets)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
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
