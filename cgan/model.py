"""Conditional WGAN-GP at 64×64: G and the critic both see the class label.

Mirza & Osindero, "Conditional Generative Adversarial Nets", 2014, https://arxiv.org/abs/1411.1784, trained with
the WGAN-GP objective of Gulrajani et al. 2017, https://arxiv.org/abs/1704.00028.

The conditional GAN feeds the label y to both players: G(z, y) and C(x, y). Here, as in the seed of this
collection, G gets a learned embedding of y (embed_dim values) concatenated to z, and the critic gets a learned
embedding of y reshaped to one extra image channel (img_size² values), so it judges "is this a real 7?",
not just "is this real?".

Differences from the paper:
- The paper's MNIST model is an MLP with a sigmoid discriminator and the original GAN loss; this one uses the
  DCGAN-style convolutional nets and the WGAN-GP loss (layer-normalised critic, gradient penalty), which trains
  more reliably.
- Labels enter through learned embeddings instead of one-hot vectors (a one-hot vector times the first weight
  matrix is the same thing as an embedding lookup).
"""
import torch
from torch import nn


class Generator(nn.Module):
    """(z (B, z_dim, 1, 1), labels (B,)) → image (B, channels, 64, 64) in [-1, 1]."""

    def __init__(self, z_dim=100, channels=1, ngf=128, num_classes=10, embed_dim=100):
        super().__init__()
        self.embed = nn.Embedding(num_classes, embed_dim)  # y → (B, 100)

        def up(c_in, c_out):  # fractionally-strided conv: doubles H and W
            return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]

        self.net = nn.Sequential(
            nn.ConvTranspose2d(z_dim + embed_dim, ngf * 8, 4, 1, 0, bias=False),  # (B, 1024, 4, 4)
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            *up(ngf * 8, ngf * 4),  # (B, 512, 8, 8)
            *up(ngf * 4, ngf * 2),  # (B, 256, 16, 16)
            *up(ngf * 2, ngf),  # (B, 128, 32, 32)
            nn.ConvTranspose2d(ngf, channels, 4, 2, 1, bias=False),  # (B, C, 64, 64)
            nn.Tanh(),
        )

    def forward(self, z, labels):
        y = self.embed(labels)[:, :, None, None]  # (B, 100, 1, 1)
        return self.net(torch.cat([z, y], dim=1))  # (B, 200, 1, 1) → (B, C, 64, 64)


class Critic(nn.Module):
    """(image (B, channels, 64, 64), labels (B,)) → score (B,); no BatchNorm (the penalty is per sample)."""

    def __init__(self, channels=1, ndf=64, num_classes=10, img_size=64):
        super().__init__()
        self.img_size = img_size
        self.embed = nn.Embedding(num_classes, img_size * img_size)  # y → one extra (64, 64) channel

        def down(c_in, c_out):  # strided conv: halves H and W
            layer_norm = nn.GroupNorm(1, c_out)  # one group = normalise over (C, H, W) of each sample
            return [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), layer_norm, nn.LeakyReLU(0.2, True)]

        self.net = nn.Sequential(
            nn.Conv2d(channels + 1, ndf, 4, 2, 1, bias=False),  # (B, 64, 32, 32)
            nn.LeakyReLU(0.2, True),
            *down(ndf, ndf * 2),  # (B, 128, 16, 16)
            *down(ndf * 2, ndf * 4),  # (B, 256, 8, 8)
            *down(ndf * 4, ndf * 8),  # (B, 512, 4, 4)
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),  # (B, 1, 1, 1)
        )

    def forward(self, x, labels):
        y = self.embed(labels).view(-1, 1, self.img_size, self.img_size)  # (B, 1, 64, 64)
        return self.net(torch.cat([x, y], dim=1)).flatten()  # (B, C + 1, 64, 64) → (B,) scores


def init_weights(module):
    """N(0, 0.02) convolutions, N(1, 0.02) normalisation scales (the DCGAN initialisation); embeddings keep
    PyTorch's N(0, 1)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def shape_check(batch=2, z_dim=100, channels=1):
    """Default-config shapes, as in the README's layer table."""
    G, C = Generator(z_dim, channels), Critic(channels)
    labels = torch.arange(batch) % 10
    x = G(torch.randn(batch, z_dim, 1, 1), labels)
    assert x.shape == (batch, channels, 64, 64), x.shape
    assert C(x, labels).shape == (batch,), C(x, labels).shape
    return x.shape, C(x, labels).shape


if __name__ == "__main__":
    print(shape_check())
