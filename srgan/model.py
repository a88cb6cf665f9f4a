"""SRGAN networks (Ledig et al. 2017, "Photo-Realistic Single Image Super-Resolution Using a Generative
Adversarial Network", https://arxiv.org/abs/1609.04802): the SRResNet generator and the VGG-style discriminator.

SRResNet (Figure 4): 9×9 conv, PReLU; 16 residual blocks (3×3 conv, BN, PReLU, 3×3 conv, BN, + skip); 3×3 conv, BN,
+ the skip from before the blocks; two upsampling blocks (3×3 conv to 256 channels, PixelShuffle ×2, PReLU);
9×9 conv to RGB. The discriminator: eight 3×3 convs, 64 → 512 channels, stride 2 every second one, BN after all
but the first, LeakyReLU 0.2; dense 1024, LeakyReLU, dense 1 (a logit: the sigmoid is in the loss).

Differences from the paper: an adaptive average pool to 6×6 before the dense layers (a 96×96 input gives 6×6
already, so nothing changes at the paper's crop size; other sizes then work too). Images are in [0, 1] for LR and
HR and the output is linear (the paper scaled HR to [-1, 1]); evaluation clamps to [0, 1].
"""
import torch
import torch.nn as nn


class ResidualBlock(nn.Module):
    def __init__(self, nf=64):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(nf, nf, 3, 1, 1), nn.BatchNorm2d(nf), nn.PReLU(),
                                  nn.Conv2d(nf, nf, 3, 1, 1), nn.BatchNorm2d(nf))

    def forward(self, x):
        return x + self.body(x)


class SRResNet(nn.Module):
    """(B, 3, h, w) in [0, 1] → (B, 3, 4h, 4w). Shapes for a 24×24 LR crop."""

    def __init__(self, n_blocks=16, nf=64, scale=4):
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(3, nf, 9, 1, 4), nn.PReLU())                      # (B, 64, 24, 24)
        self.blocks = nn.Sequential(*[ResidualBlock(nf) for _ in range(n_blocks)])            # (B, 64, 24, 24)
        self.post = nn.Sequential(nn.Conv2d(nf, nf, 3, 1, 1), nn.BatchNorm2d(nf))             # (B, 64, 24, 24)
        ups = []
        for _ in range(scale.bit_length() - 1):  # log2(scale) ×2 steps
            ups += [nn.Conv2d(nf, nf * 4, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU()]           # (B, 64, 2h, 2w)
        self.upsample = nn.Sequential(*ups)                                                   # (B, 64, 96, 96)
        self.tail = nn.Conv2d(nf, 3, 9, 1, 4)                                                 # (B, 3, 96, 96)

    def forward(self, x):
        x = self.head(x)
        x = x + self.post(self.blocks(x))  # the global skip around the residual blocks
        return self.tail(self.upsample(x))


class Discriminator(nn.Module):
    """(B, 3, 96, 96) → (B,) logits."""

    def __init__(self, ndf=64):
        super().__init__()
        layers, cin = [nn.Conv2d(3, ndf, 3, 1, 1), nn.LeakyReLU(0.2)], ndf                    # (B, 64, 96, 96)
        for cout, stride in ((ndf, 2), (ndf * 2, 1), (ndf * 2, 2), (ndf * 4, 1), (ndf * 4, 2), (ndf * 8, 1),
                             (ndf * 8, 2)):
            layers += [nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2)]
            cin = cout                                                                        # ... (B, 512, 6, 6)
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(6))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(cin * 36, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 1))

    def forward(self, x):
        return self.head(self.features(x)).squeeze(1)


def shape_check():
    G, D = SRResNet(), Discriminator()
    with torch.no_grad():
        sr = G(torch.rand(2, 3, 24, 24))
        logits = D(sr)
    return (sum(p.numel() for p in G.parameters()), sum(p.numel() for p in D.parameters()), tuple(sr.shape),
            tuple(logits.shape))


if __name__ == "__main__":
    g, d, sr, logits = shape_check()
    print(f"SRResNet {g:,} params, 24×24 → {sr}; D {d:,} params, logits {logits}")
