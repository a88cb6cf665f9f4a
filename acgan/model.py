"""AC-GAN's CIFAR-10 networks (Odena, Olah, Shlens, "Conditional Image Synthesis with Auxiliary Classifier GANs",
ICML 2017, https://arxiv.org/abs/1610.09585, Appendix: the CIFAR-10 table).

G takes 110 numbers, 100 of noise and the class as a one-hot vector of 10 (the paper's class-conditional input),
projects them linearly to 384×4×4 and doubles the resolution three times with 5×5 stride-2 transposed
convolutions (192, 96, 3 channels; BatchNorm and ReLU between, Tanh out). D is six 3×3 convolutions (16 → 512
channels, stride 2 and 1 alternating, BatchNorm from the second, LeakyReLU 0.2, dropout 0.5 after each) and one
linear layer with 1 + K outputs: the source logit (real or fake) and the K class logits, the auxiliary classifier
that gives the method its name.

Differences from the paper: none in the layers at 32×32; "5×5 stride 2" transposed convolutions use padding 2 and
output_padding 1 so each exactly doubles the size.
"""
import torch
import torch.nn.functional as F
from torch import nn


class Generator(nn.Module):
    """z (B, z_dim), labels (B,) → image (B, channels, 32, 32) in [-1, 1]."""

    def __init__(self, z_dim=100, num_classes=10, channels=3, ngf=48):
        super().__init__()
        self.num_classes = num_classes

        def up(c_in, c_out):  # 5×5 transposed conv, stride 2: doubles H and W
            return nn.ConvTranspose2d(c_in, c_out, 5, 2, 2, output_padding=1)

        self.project = nn.Linear(z_dim + num_classes, 8 * ngf * 4 * 4)  # (B, 384·4·4)
        self.net = nn.Sequential(
            up(8 * ngf, 4 * ngf), nn.BatchNorm2d(4 * ngf), nn.ReLU(True),  # (B, 192, 8, 8)
            up(4 * ngf, 2 * ngf), nn.BatchNorm2d(2 * ngf), nn.ReLU(True),  # (B, 96, 16, 16)
            up(2 * ngf, channels), nn.Tanh(),  # (B, C, 32, 32)
        )

    def forward(self, z, labels):
        x = torch.cat([z, F.one_hot(labels, self.num_classes).to(z.dtype)], dim=1)  # (B, 110)
        x = torch.relu(self.project(x)).view(z.shape[0], -1, 4, 4)  # (B, 384, 4, 4)
        return self.net(x)


class Discriminator(nn.Module):
    """image (B, channels, 32, 32) → (source logit (B,), class logits (B, num_classes))."""

    def __init__(self, num_classes=10, channels=3, ndf=16, dropout=0.5):
        super().__init__()

        def conv(c_in, c_out, stride, bn=True):  # 3×3 conv, LeakyReLU 0.2, dropout 0.5 (the paper's table)
            layers = [nn.Conv2d(c_in, c_out, 3, stride, 1)] + ([nn.BatchNorm2d(c_out)] if bn else [])
            return layers + [nn.LeakyReLU(0.2, True), nn.Dropout(dropout)]

        self.net = nn.Sequential(
            *conv(channels, ndf, 2, bn=False),  # (B, 16, 16, 16)
            *conv(ndf, 2 * ndf, 1),  # (B, 32, 16, 16)
            *conv(2 * ndf, 4 * ndf, 2),  # (B, 64, 8, 8)
            *conv(4 * ndf, 8 * ndf, 1),  # (B, 128, 8, 8)
            *conv(8 * ndf, 16 * ndf, 2),  # (B, 256, 4, 4)
            *conv(16 * ndf, 32 * ndf, 1),  # (B, 512, 4, 4)
            nn.Flatten(),  # (B, 8192)
        )
        self.out = nn.Linear(32 * ndf * 4 * 4, 1 + num_classes)  # (B, 1 + 10)

    def forward(self, x):
        out = self.out(self.net(x))
        return out[:, 0], out[:, 1:]


def init_weights(module):
    """The paper's table: weights N(0, 0.02), biases 0; BatchNorm scales 1."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def shape_check(batch=2):
    """Default-config shapes, as in the README's layer table."""
    G, D = Generator(), Discriminator()
    x = G(torch.randn(batch, 100), torch.arange(batch))
    assert x.shape == (batch, 3, 32, 32), x.shape
    source, classes = D(x)
    assert source.shape == (batch,) and classes.shape == (batch, 10)
    return x.shape, source.shape, classes.shape


if __name__ == "__main__":
    print(shape_check())
