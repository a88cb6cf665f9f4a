"""LSGAN generator and discriminator at 64×64.

Mao, Li, Xie, Lau, Wang, Smolley, "Least Squares Generative Adversarial Networks", ICCV 2017,
https://arxiv.org/abs/1611.04076

The paper's scene-generation architecture (Figure 3; the official code's `vgg.py`, which builds it for any output
size s from s/16): G maps z (1024, uniform) by a linear layer to 256×(s/16)² and then through 3×3 transposed
convolutions, stride 2 and stride 1 alternating in the first two stages (256 channels), then stride 2 to 128 and
64 channels, and a stride-1 one to the image, BatchNorm + ReLU after each but the last, Tanh out. D is DCGAN's:
5×5 stride-2 convolutions 64 → 512 with LeakyReLU 0.2, BatchNorm from the second, and a linear layer to one raw
score (no sigmoid: the least-squares loss compares the score itself with the codes a, b, c).

Differences from the paper:
- Built at 64×64 (the paper: 112×112, LSUN): the first feature map is 4×4 instead of 7×7, everything else as the
  official code at output size 64.
- TF's "SAME" padding becomes symmetric padding (k5 s2: 2; k3 transposed: 1, output_padding 1 when doubling):
  the same sizes, the kernel window shifted by half a pixel.
"""
import torch
from torch import nn


class Generator(nn.Module):
    """z (B, z_dim) in [-1, 1] → image (B, channels, 64, 64) in [-1, 1]."""

    def __init__(self, z_dim=1024, channels=3, ngf=64, size=64):
        super().__init__()
        self.start = size // 16

        def up(c_in, c_out, stride):  # 3×3 transposed conv: doubles H and W (stride 2) or keeps them (stride 1)
            conv = nn.ConvTranspose2d(c_in, c_out, 3, stride, 1, output_padding=stride - 1)
            return [conv, nn.BatchNorm2d(c_out), nn.ReLU(True)]

        self.project = nn.Linear(z_dim, 4 * ngf * self.start ** 2)  # (B, 256·4·4)
        self.bn0 = nn.BatchNorm2d(4 * ngf)
        self.net = nn.Sequential(
            *up(4 * ngf, 4 * ngf, 2),  # (B, 256, 8, 8)
            *up(4 * ngf, 4 * ngf, 1),  # (B, 256, 8, 8)
            *up(4 * ngf, 4 * ngf, 2),  # (B, 256, 16, 16)
            *up(4 * ngf, 4 * ngf, 1),  # (B, 256, 16, 16)
            *up(4 * ngf, 2 * ngf, 2),  # (B, 128, 32, 32)
            *up(2 * ngf, ngf, 2),  # (B, 64, 64, 64)
            nn.ConvTranspose2d(ngf, channels, 3, 1, 1),  # (B, C, 64, 64)
            nn.Tanh(),
        )

    def forward(self, z):
        x = self.project(z).view(z.shape[0], -1, self.start, self.start)  # (B, 256, 4, 4)
        return self.net(torch.relu(self.bn0(x)))


class Discriminator(nn.Module):
    """image (B, channels, 64, 64) → raw score (B,); no BatchNorm on the input layer (DCGAN's rule)."""

    def __init__(self, channels=3, ndf=64, size=64):
        super().__init__()

        def down(c_in, c_out):  # 5×5 stride-2 conv: halves H and W
            return [nn.Conv2d(c_in, c_out, 5, 2, 2), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2, True)]

        self.net = nn.Sequential(
            nn.Conv2d(channels, ndf, 5, 2, 2),  # (B, 64, 32, 32)
            nn.LeakyReLU(0.2, True),
            *down(ndf, ndf * 2),  # (B, 128, 16, 16)
            *down(ndf * 2, ndf * 4),  # (B, 256, 8, 8)
            *down(ndf * 4, ndf * 8),  # (B, 512, 4, 4)
            nn.Flatten(),  # (B, 8192)
            nn.Linear(ndf * 8 * (size // 16) ** 2, 1),  # (B, 1)
        )

    def forward(self, x):
        return self.net(x).flatten()  # (B,) scores


def init_weights(module):
    """N(0, 0.02) weights and zero biases, as the official code (DCGAN's TensorFlow ops); BatchNorm scales 1."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def shape_check(batch=2, z_dim=1024, channels=3):
    """Default-config shapes, as in the README's layer table."""
    G, D = Generator(z_dim, channels), Discriminator(channels)
    x = G(torch.rand(batch, z_dim) * 2 - 1)
    assert x.shape == (batch, channels, 64, 64), x.shape
    assert D(x).shape == (batch,), D(x).shape
    return x.shape, D(x).shape


if __name__ == "__main__":
    print(shape_check())
