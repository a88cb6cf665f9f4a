"""The simplest GAN: one-hidden-layer MLPs for G and D on flattened 28×28 images.

Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, https://arxiv.org/abs/1406.2661

The two-player game min_G max_D E_x[log D(x)] + E_z[log(1 − D(G(z)))] played by two small MLPs, as in the
seed of this collection: D is 784 → 128 (LeakyReLU) → 1, G is 64 → 256 (LeakyReLU) → 784 (Tanh).

Differences from the paper:
- The paper's MNIST nets are larger (maxout D, ReLU/sigmoid G, dropout); these are the seed's tiny nets,
  chosen so the whole game is cheap enough to train on a CPU and fits on one screen.
- LeakyReLU(0.01) hidden units instead of maxout/ReLU; Tanh output so G matches data scaled to [-1, 1].
- D returns a logit (no Sigmoid); the loss is BCE-with-logits, the same objective computed stably.
"""
import torch
from torch import nn


class Generator(nn.Module):
    """z (B, z_dim) → image (B, channels, img_size, img_size) in [-1, 1]."""

    def __init__(self, z_dim=64, channels=1, img_size=28, hidden=256):
        super().__init__()
        self.shape = (channels, img_size, img_size)
        self.net = nn.Sequential(
            nn.Linear(z_dim, hidden),  # (B, 256)
            nn.LeakyReLU(0.01),
            nn.Linear(hidden, channels * img_size * img_size),  # (B, 784)
            nn.Tanh(),
        )

    def forward(self, z):
        return self.net(z).view(-1, *self.shape)  # (B, 1, 28, 28)


class Discriminator(nn.Module):
    """image (B, channels, img_size, img_size) → logit (B,)."""

    def __init__(self, channels=1, img_size=28, hidden=128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),  # (B, 784)
            nn.Linear(channels * img_size * img_size, hidden),  # (B, 128)
            nn.LeakyReLU(0.01),
            nn.Linear(hidden, 1),  # (B, 1)
        )

    def forward(self, x):
        return self.net(x).flatten()  # (B,) logits


def shape_check(batch=2, z_dim=64):
    """Default-config shapes, as in the README's layer table."""
    G, D = Generator(z_dim), Discriminator()
    x = G(torch.randn(batch, z_dim))
    assert x.shape == (batch, 1, 28, 28), x.shape
    assert D(x).shape == (batch,), D(x).shape
    return x.shape, D(x).shape


if __name__ == "__main__":
    print(shape_check())
