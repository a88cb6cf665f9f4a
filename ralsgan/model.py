"""DCGAN generator and discriminator at 64×64, the nets of the relativistic GAN paper's DCGAN experiments.

Jolicoeur-Martineau, "The relativistic discriminator: a key element missing from standard GAN", ICLR 2019,
https://arxiv.org/abs/1807.00734 (nets: Radford, Metz, Chintala, ICLR 2016, https://arxiv.org/abs/1511.06434).
D's output is the critic score C(x) that the relativistic losses compare (raw: no sigmoid).

The paper's guidelines (Section 3): no pooling (strided convolutions in D, fractionally-strided ones in G);
BatchNorm in both nets except G's output and D's input layer; ReLU in G with Tanh at the output; LeakyReLU(0.2)
in D; no fully connected hidden layers. G follows Figure 1: z (100) → 1024×4×4 → 512×8×8 → 256×16×16 →
128×32×32 → C×64×64. Weights are drawn from N(0, 0.02) (Section 4).

Differences from the paper:
- D's widths (64 → 128 → 256 → 512) and the final 4×4 convolution to one logit are the reference Torch/PyTorch
  implementation's; the paper gives G's widths only.
- D returns logits (no Sigmoid); the loss is BCE-with-logits, which is the same objective, computed stably.
- Convolutions followed by BatchNorm have no bias (BatchNorm's shift replaces it); so do the output layers,
  as in the reference implementation.
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
            nn.ConvTranspose2d(z_dim, ngf * 8, 4, 1, 0, bias=False),  # (B, 1024, 4, 4): "project and reshape"
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


class Discriminator(nn.Module):
    """image (B, channels, 64, 64) → logit (B,); no BatchNorm on the input layer (paper, Section 3)."""

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
        return self.net(x).flatten()  # (B,) logits


def init_weights(module):
    """Paper, Section 4: "All weights were initialized from a zero-centered Normal distribution with standard
    deviation 0.02." BatchNorm scales start at N(1, 0.02) and shifts at 0, as in the reference code."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def shape_check(batch=2, z_dim=100, channels=3):
    """Default-config shapes, as in the README's layer table."""
    G, D = Generator(z_dim, channels), Discriminator(channels)
    x = G(torch.randn(batch, z_dim, 1, 1))
    assert x.shape == (batch, channels, 64, 64), x.shape
    assert D(x).shape == (batch,), D(x).shape
    return x.shape, D(x).shape


if __name__ == "__main__":
    print(shape_check())
