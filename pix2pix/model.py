"""pix2pix networks (Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial Networks",
https://arxiv.org/abs/1611.07004): the U-Net generator and the 70×70 PatchGAN discriminator.

The U-Net is an encoder-decoder whose i-th decoder block also sees the (n−i)-th encoder block's output through
a skip concatenation, so low-level structure (edges, layout) shared by input and output does not have to pass
through the 1×1 bottleneck (paper, Section 3.2.1 and Appendix 6.1.1). The PatchGAN classifies each overlapping
70×70 patch of the (input, output) pair as real or fake (Section 3.2.2): an output of 30×30 logits for 256×256.

Layer sizes follow the paper's Appendix 6.1 and the official PyTorch code (junyanz/pytorch-CycleGAN-and-pix2pix,
`UnetGenerator`, `NLayerDiscriminator`): encoder C64-C128-C256-C512-C512-C512-C512-C512 (no BatchNorm on the first),
decoder CD512-CD512-CD512-C512-C256-C128-C64 (D = dropout 0.5), convs 4×4 stride 2, LeakyReLU 0.2 in the encoder,
ReLU in the decoder, Tanh out. The encoder convolutions and every conv followed by BatchNorm have no bias, as in
the official PyTorch code, which gives its parameter counts: 54,413,955 (G, "54.414 M") and 2,768,705 (D, 2.769 M).

Differences from the paper: none in the default 256×256 configuration. The dropout sits in the first three decoder
blocks as the paper and its Torch code have it (the PyTorch port puts it one block further out; same parameters).
`num_downs` (= log2 of the image side)
makes the same U-Net for smaller images (the official code's unet_128 is num_downs 7); with fewer than 8 levels
there are fewer than three dropout blocks (num_downs − 5 of them), since the three sit next to the bottleneck.
"""
import torch
import torch.nn as nn


def down(cin, cout, norm=True):
    """Encoder block Ck: LeakyReLU 0.2 on the previous output, 4×4 conv stride 2 (halves H and W), BatchNorm.

    Activation first (as the original Torch code and the official PyTorch port): the value a skip connection
    carries is the block's conv/BatchNorm output, before the nonlinearity. No conv bias, as the official code.
    """
    layers = [nn.LeakyReLU(0.2), nn.Conv2d(cin, cout, 4, 2, 1, bias=False)]
    if norm:
        layers.append(nn.BatchNorm2d(cout))
    return nn.Sequential(*layers)


def up(cin, cout, dropout=False):
    """Decoder block Ck / CDk: ReLU, 4×4 transposed conv stride 2 (doubles H and W), BatchNorm, [Dropout 0.5]."""
    layers = [nn.ReLU(), nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout)]
    if dropout:
        layers.append(nn.Dropout(0.5))  # the paper's only noise source: "noise in the form of dropout"
    return nn.Sequential(*layers)


class UNetGenerator(nn.Module):
    """U-Net with `num_downs` halvings: 256×256 needs 8 (down to 1×1). Shapes below for 256, ngf 64, B images."""

    def __init__(self, in_channels=3, out_channels=3, ngf=64, num_downs=8):
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"num_downs must be >= 5 (an image side of at least 32), got {num_downs}")
        widths = [ngf, ngf * 2, ngf * 4] + [ngf * 8] * (num_downs - 3)      # 64 128 256 512 512 512 512 512
        # e1: a plain conv (no activation before it, no BatchNorm after: paper Appendix 6.1.1)
        self.downs = nn.ModuleList([nn.Conv2d(in_channels, widths[0], 4, 2, 1, bias=False)])  # (B, 64, 128, 128)
        for cin, cout in zip(widths[:-2], widths[1:-1]):
            self.downs.append(down(cin, cout))  # (B,128,64,64) (B,256,32,32) (B,512,16,16) ... (B,512,2,2)
        # e8, the bottleneck: no BatchNorm (a 1×1 map at batch 1 has nothing to normalise; the original code)
        self.downs.append(down(widths[-2], widths[-1], norm=False))  # (B, 512, 1, 1)
        # up i takes the previous decoder output concatenated with the matching encoder output (2× channels),
        # except the first, which takes the bottleneck alone
        self.ups = nn.ModuleList()
        n_dropout = num_downs - 5  # 3 at 256: the three decoder blocks nearest the bottleneck (CD512 ×3)
        for i in range(num_downs - 1):
            cin = widths[-1 - i] * (1 if i == 0 else 2)
            self.ups.append(up(cin, widths[-2 - i], dropout=i < n_dropout))
            # (B,512,2,2)D (B,512,4,4)D (B,512,8,8)D (B,512,16,16) (B,256,32,32) (B,128,64,64) (B,64,128,128)
        self.out = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(widths[0] * 2, out_channels, 4, 2, 1),
                                 nn.Tanh())  # (B, 3, 256, 256)

    def forward(self, x):
        skips = []
        for block in self.downs:
            x = block(x)
            skips.append(x)
        skips.pop()  # the bottleneck has no partner
        for block in self.ups:
            x = torch.cat([block(x), skips.pop()], dim=1)  # skip concatenation, (B, 2·C, H, W)
        return self.out(x)


class PatchDiscriminator(nn.Module):
    """70×70 PatchGAN: C64-C128-C256-C512, then a 1-channel conv; logits (B, 1, 30, 30) for 256×256 inputs.

    The receptive field of one output logit is 70×70 input pixels: walking back through the 4×4 convs with
    r_in = (r_out − 1)·stride + 4 gives 1 → 4 → 7 → 16 → 34 → 70 (strides 1, 1, 2, 2, 2).
    `in_channels` is input + output channels (6): D sees the pair, so it is conditional.
    """

    def __init__(self, in_channels=6, ndf=64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2),                  # (B, 64, 128, 128)
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2),                                                          # (B, 128, 64, 64)
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2),                                                          # (B, 256, 32, 32)
            nn.Conv2d(ndf * 4, ndf * 8, 4, 1, 1, bias=False), nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2),                                                          # (B, 512, 31, 31)
            nn.Conv2d(ndf * 8, 1, 4, 1, 1),                                            # (B, 1, 30, 30) logits
        )

    def forward(self, condition, image):
        return self.net(torch.cat([condition, image], dim=1))  # (B, 6, H, W) → (B, 1, H/8 − 2, W/8 − 2)


def init_weights(m):
    """N(0, 0.02) for conv weights, N(1, 0.02) for BatchNorm scales, zero biases (paper, Section 6.2)."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def shape_check(size=256, ngf=64, ndf=64):
    """Build the default nets, run a batch of 1, and return (G params, D params, output shape, logits shape)."""
    num_downs = size.bit_length() - 1
    G, D = UNetGenerator(3, 3, ngf, num_downs), PatchDiscriminator(6, ndf)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        y = G(x)
        logits = D(x, y)
    return (sum(p.numel() for p in G.parameters()), sum(p.numel() for p in D.parameters()),
            tuple(y.shape), tuple(logits.shape))


if __name__ == "__main__":
    g, d, out, logits = shape_check()
    print(f"G {g:,} params, output {out}; D {d:,} params, logits {logits}")
