"""CycleGAN networks (Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
Networks", https://arxiv.org/abs/1703.10593): the ResNet generator and the 70×70 PatchGAN discriminator.

Two generators G: X → Y and F: Y → X and two discriminators D_Y (real y vs G(x)) and D_X (real x vs F(y)).
The generator is Johnson et al.'s (arXiv 1603.08155) with instance normalisation (paper, Section 4 and Appendix
7.2): c7s1-64, d128, d256, R256 × 9, u128, u64, c7s1-3 for 256×256 images (6 residual blocks for 128×128),
reflection padding to reduce border artifacts. The discriminator is pix2pix's 70×70 PatchGAN with instance
normalisation: C64-C128-C256-C512 then a 1-channel conv, one logit per 70×70 patch.

Layer sizes follow the official PyTorch code (junyanz/pytorch-CycleGAN-and-pix2pix, `ResnetGenerator`,
`NLayerDiscriminator`): InstanceNorm without affine parameters, so every conv keeps its bias. Parameter counts:
11,378,179 per generator ("11.378 M") and 2,764,737 per discriminator ("2.765 M").

Differences from the paper: none. (The official code adds an optional dropout in the residual blocks, off by
default for CycleGAN; it is left out.)
"""
import torch
import torch.nn as nn


def conv_norm_relu(cin, cout, kernel, stride=1, padding=0):
    return [nn.Conv2d(cin, cout, kernel, stride, padding), nn.InstanceNorm2d(cout), nn.ReLU()]


class ResidualBlock(nn.Module):
    """R256: x + [reflect-pad, 3×3 conv, IN, ReLU, reflect-pad, 3×3 conv, IN](x); same shape in and out."""

    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), *conv_norm_relu(channels, channels, 3),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels))

    def forward(self, x):
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """Shapes for a 256×256 input, ngf 64, 9 blocks, B images."""

    def __init__(self, in_channels=3, out_channels=3, ngf=64, n_blocks=9):
        super().__init__()
        self.net = nn.Sequential(
            nn.ReflectionPad2d(3), *conv_norm_relu(in_channels, ngf, 7),          # c7s1-64: (B, 64, 256, 256)
            *conv_norm_relu(ngf, ngf * 2, 3, stride=2, padding=1),               # d128:    (B, 128, 128, 128)
            *conv_norm_relu(ngf * 2, ngf * 4, 3, stride=2, padding=1),           # d256:    (B, 256, 64, 64)
            *[ResidualBlock(ngf * 4) for _ in range(n_blocks)],                  # R256×9:  (B, 256, 64, 64)
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, 2, 1, output_padding=1),
            nn.InstanceNorm2d(ngf * 2), nn.ReLU(),                               # u128:    (B, 128, 128, 128)
            nn.ConvTranspose2d(ngf * 2, ngf, 3, 2, 1, output_padding=1),
            nn.InstanceNorm2d(ngf), nn.ReLU(),                                   # u64:     (B, 64, 256, 256)
            nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh(),  # c7s1-3:  (B, 3, 256, 256)
        )

    def forward(self, x):
        return self.net(x)  # H and W must be multiples of 4 (two stride-2 convs, two ×2 transposed convs)


class PatchDiscriminator(nn.Module):
    """70×70 PatchGAN with InstanceNorm: (B, 3, 256, 256) → (B, 1, 30, 30) logits (one per 70×70 patch)."""

    def __init__(self, in_channels=3, ndf=64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2),                        # (B, 64, 128, 128)
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1), nn.InstanceNorm2d(ndf * 2), nn.LeakyReLU(0.2),  # (B, 128, 64, 64)
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1), nn.InstanceNorm2d(ndf * 4), nn.LeakyReLU(0.2),  # (B,256,32,32)
            nn.Conv2d(ndf * 4, ndf * 8, 4, 1, 1), nn.InstanceNorm2d(ndf * 8), nn.LeakyReLU(0.2),  # (B,512,31,31)
            nn.Conv2d(ndf * 8, 1, 4, 1, 1),                                                  # (B, 1, 30, 30)
        )

    def forward(self, x):
        return self.net(x)


def init_weights(m):
    """Gaussian N(0, 0.02) weights and zero biases (paper, Appendix 7.1; the official code's default)."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        nn.init.zeros_(m.bias)


def default_blocks(size):
    """9 residual blocks for 256×256 and larger, 6 below (paper, Appendix 7.2)."""
    return 9 if size >= 256 else 6


def shape_check(size=256, ngf=64, ndf=64):
    """Build the default nets, run a batch of 1; returns (G params, D params, G output shape, D logits shape)."""
    G, D = ResnetGenerator(3, 3, ngf, default_blocks(size)), PatchDiscriminator(3, ndf)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        y = G(x)
        logits = D(y)
    return (sum(p.numel() for p in G.parameters()), sum(p.numel() for p in D.parameters()),
            tuple(y.shape), tuple(logits.shape))


if __name__ == "__main__":
    g, d, out, logits = shape_check()
    print(f"G and F {g:,} params each, output {out}; D_X and D_Y {d:,} params each, logits {logits}")
