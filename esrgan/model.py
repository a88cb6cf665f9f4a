"""ESRGAN networks (Wang et al. 2018, "ESRGAN: Enhanced Super-Resolution Generative Adversarial Networks",
https://arxiv.org/abs/1809.00219): RRDBNet and the VGG-style discriminator used with the relativistic loss.

RRDBNet (Figure 3-4): 3×3 conv; 23 Residual-in-Residual Dense Blocks, each three dense blocks of five 3×3 convs
(growth 32 channels, each conv sees all earlier outputs, LeakyReLU 0.2), every residual scaled by β = 0.2 before
it is added, no BatchNorm anywhere; 3×3 conv + the skip over all blocks; two nearest-neighbour ×2 upsamplings each
followed by a 3×3 conv and LeakyReLU; 3×3 conv, LeakyReLU, 3×3 conv to RGB. 16,697,987 parameters at ×4, the
official RRDB_ESRGAN_x4 count. The discriminator is the official `Discriminator_VGG_128`: ten convs 64 → 512 with
BN from the second on, stride 2 every second, dense 100, dense 1.

The dense blocks' convs start from the paper's "smaller initialization" (Section 3.1; the official code's
Kaiming normal × 0.1); the other layers keep PyTorch's default, as the official code does.

Differences from the paper: an adaptive average pool to 4×4 before the dense layers of D (a 128×128 crop gives
4×4 already: no change at the paper's size).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class DenseBlock(nn.Module):
    """Five 3×3 convs, conv i sees x and the outputs of convs 1..i−1; out = x + 0.2 · conv5(...)."""

    def __init__(self, nf=64, gc=32):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(nf + i * gc, gc if i < 4 else nf, 3, 1, 1) for i in range(5)])
        for conv in self.convs:  # the paper's "smaller initialization" (Section 3.1), as the official RRDBNet:
            nn.init.kaiming_normal_(conv.weight)  # Kaiming normal (fan_in, gain √2) scaled by 0.1, zero bias
            conv.weight.data.mul_(0.1)
            nn.init.zeros_(conv.bias)

    def forward(self, x):
        features = [x]
        for i, conv in enumerate(self.convs):
            out = conv(torch.cat(features, dim=1))  # (B, nf + i·gc, H, W) → (B, gc, H, W), or nf for the last
            if i < 4:
                features.append(F.leaky_relu(out, 0.2))
        return x + 0.2 * out  # residual scaling β = 0.2 (Section 3.1)


class RRDB(nn.Module):
    """Residual in residual: x + 0.2 · DB3(DB2(DB1(x)))."""

    def __init__(self, nf=64, gc=32):
        super().__init__()
        self.blocks = nn.Sequential(DenseBlock(nf, gc), DenseBlock(nf, gc), DenseBlock(nf, gc))

    def forward(self, x):
        return x + 0.2 * self.blocks(x)


class RRDBNet(nn.Module):
    """(B, 3, h, w) in [0, 1] → (B, 3, 4h, 4w). Shapes for a 32×32 LR crop."""

    def __init__(self, n_blocks=23, nf=64, gc=32, scale=4):
        super().__init__()
        self.conv_first = nn.Conv2d(3, nf, 3, 1, 1)                                     # (B, 64, 32, 32)
        self.trunk = nn.Sequential(*[RRDB(nf, gc) for _ in range(n_blocks)])            # (B, 64, 32, 32)
        self.trunk_conv = nn.Conv2d(nf, nf, 3, 1, 1)
        self.ups = nn.ModuleList([nn.Conv2d(nf, nf, 3, 1, 1) for _ in range(scale.bit_length() - 1)])
        self.hr_conv = nn.Conv2d(nf, nf, 3, 1, 1)                                       # (B, 64, 128, 128)
        self.conv_last = nn.Conv2d(nf, 3, 3, 1, 1)                                      # (B, 3, 128, 128)

    def forward(self, x):
        x = self.conv_first(x)
        x = x + self.trunk_conv(self.trunk(x))
        for conv in self.ups:  # nearest ×2, conv, LeakyReLU: (B, 64, 2h, 2w)
            x = F.leaky_relu(conv(F.interpolate(x, scale_factor=2, mode="nearest")), 0.2)
        return self.conv_last(F.leaky_relu(self.hr_conv(x), 0.2))


class Discriminator(nn.Module):
    """(B, 3, 128, 128) → (B,) raw scores C(x) (the relativistic loss compares them; no sigmoid here)."""

    def __init__(self, ndf=64):
        super().__init__()
        layers, cin = [nn.Conv2d(3, ndf, 3, 1, 1), nn.LeakyReLU(0.2)], ndf             # (B, 64, 128, 128)
        for cout, kernel, stride in ((ndf, 4, 2), (ndf * 2, 3, 1), (ndf * 2, 4, 2), (ndf * 4, 3, 1),
                                     (ndf * 4, 4, 2), (ndf * 8, 3, 1), (ndf * 8, 4, 2), (ndf * 8, 3, 1),
                                     (ndf * 8, 4, 2)):
            layers += [nn.Conv2d(cin, cout, kernel, stride, 1, bias=False), nn.BatchNorm2d(cout),
                       nn.LeakyReLU(0.2)]
            cin = cout                                                                  # ... (B, 512, 4, 4)
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(cin * 16, 100), nn.LeakyReLU(0.2), nn.Linear(100, 1))

    def forward(self, x):
        return self.head(self.features(x)).squeeze(1)


def shape_check():
    G, D = RRDBNet(), Discriminator()
    with torch.no_grad():
        sr = G(torch.rand(1, 3, 32, 32))
        scores = D(sr)
    return (sum(p.numel() for p in G.parameters()), sum(p.numel() for p in D.parameters()), tuple(sr.shape),
            tuple(scores.shape))


if __name__ == "__main__":
    g, d, sr, scores = shape_check()
    print(f"RRDBNet {g:,} params, 32×32 → {sr}; D {d:,} params, scores {scores}")
