"""ProGAN networks (Karras, Aila, Laine & Lehtinen 2018, "Progressive Growing of GANs for Improved Quality,
Stability, and Variation", https://arxiv.org/abs/1710.10196).

G and D are built whole, up to `max_resolution`, and run at a `level` (0 → 4×4, 1 → 8×8, ... 8 → 1024×1024)
with a fade-in weight `alpha`: while a new resolution fades in, the new block's output is blended with the
previous resolution's, upsampled (G) or downsampled (D), alpha going 0 → 1 (paper, Figure 2).

Layers as the paper's Table 2 and the official code (tkarras/progressive_growing_of_gans, `G_paper`, `D_paper`):
- channels nf(r) = min(16384 / r, 512): 512 up to 32×32, then 256, 128, 64, 32, 16 at 1024 (`fmap_base` 8192 at
  stage log2(r) − 1); `fmap_base` and `fmap_max` shrink them for small experiments;
- equalized learning rate on every conv and dense layer (Section 4.1): weights drawn from N(0, 1) and scaled at
  run time by He's constant gain / √fan_in, so Adam's step is the same relative size for every layer;
- pixel normalisation after every conv in G (Section 4.2) and on the latent; LeakyReLU 0.2 everywhere;
- G: latent 512 → dense to 4×4×512 → conv 3×3; then per resolution upsample ×2 (nearest), two 3×3 convs; toRGB
  is a 1×1 conv per resolution, linear;
- D: fromRGB 1×1 conv per resolution; per resolution two 3×3 convs and 2×2 average pooling; at 4×4 the minibatch
  standard deviation (group size 4, Section 3) as one extra feature map, conv 3×3, dense 4×4×512 → 512, dense → 1.
At 1024×1024: G 23,079,115 and D 23,087,249 parameters; the paper's Table 2 says 23.1 M for each.

Both within 0.1% (the counts include every resolution's toRGB/fromRGB, which the nets keep for the fade-ins).

Differences from the paper: none in the layers.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def n_features(resolution, fmap_base=8192, fmap_max=512):
    """nf at `resolution`: fmap_base / 2^(stage), stage = log2(resolution) − 1, at most fmap_max."""
    return min(int(fmap_base / 2 ** (math.log2(resolution) - 1)), fmap_max)


class EqConv2d(nn.Module):
    """Conv with equalized learning rate: w ~ N(0, 1) stored, w · gain/√fan_in used (Section 4.1)."""

    def __init__(self, cin, cout, kernel, gain=math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale, self.padding = gain / math.sqrt(cin * kernel * kernel), kernel // 2

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqLinear(nn.Module):
    """Dense layer with equalized learning rate; `bias=False` when the caller adds a per-channel bias."""

    def __init__(self, cin, cout, gain=math.sqrt(2), bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.scale = gain / math.sqrt(cin)

    def forward(self, x):
        return F.linear(x, self.weight * self.scale, self.bias)


def pixel_norm(x, eps=1e-8):
    """b = a / √(mean over channels of a² + ε), at every pixel (Section 4.2, Eq. 2)."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


def lrelu(x):
    return F.leaky_relu(x, 0.2)


def minibatch_stddev(x, group_size=4):
    """Append one feature map: the standard deviation of each feature and pixel over a group of `group_size`
    samples, averaged over features and pixels (Section 3), so D can see a batch's lack of variation.
    Sample i belongs to group i mod (B / group_size), as in the official code."""
    B, C, H, W = x.shape
    g = min(group_size, B)
    if B % g:
        g = 1 if B % 2 else 2  # the official code requires divisibility; degrade gracefully on odd batches
    y = x.float().view(g, -1, C, H, W)                          # (G, M, C, H, W)
    y = (y - y.mean(dim=0)).pow(2).mean(dim=0).add(1e-8).sqrt()  # (M, C, H, W) std over the group
    y = y.mean(dim=(1, 2, 3)).view(-1, 1, 1, 1).repeat(g, 1, H, W)  # (B, 1, H, W)
    return torch.cat([x, y.to(x.dtype)], dim=1)                 # (B, C + 1, H, W)


class Generator(nn.Module):
    """Shapes for latent 512, 3 channels, level L (resolution R = 4·2^L)."""

    def __init__(self, max_resolution=1024, latent_dim=512, channels=3, fmap_base=8192, fmap_max=512):
        super().__init__()
        self.max_level = int(math.log2(max_resolution)) - 2
        nf = [n_features(4 * 2 ** k, fmap_base, fmap_max) for k in range(self.max_level + 1)]
        self.nf0 = nf[0]
        # 4×4: dense latent → 4·4·nf, one bias per channel (the official code), gain √2/4 (a 4×4 "conv" from 1×1)
        self.dense = EqLinear(latent_dim, nf[0] * 16, gain=math.sqrt(2) / 4, bias=False)
        self.dense_bias = nn.Parameter(torch.zeros(nf[0]))
        self.conv4 = EqConv2d(nf[0], nf[0], 3)
        self.blocks = nn.ModuleList([None])  # blocks[k] makes level k from level k − 1
        for k in range(1, self.max_level + 1):
            self.blocks.append(nn.ModuleList([EqConv2d(nf[k - 1], nf[k], 3), EqConv2d(nf[k], nf[k], 3)]))
        self.to_rgb = nn.ModuleList([EqConv2d(nf[k], channels, 1, gain=1) for k in range(self.max_level + 1)])

    def features(self, z, level):
        """Features at `level`, and those at level − 1 (for the fade-in), before toRGB."""
        x = self.dense(pixel_norm(z)).view(-1, self.nf0, 4, 4) + self.dense_bias.view(1, -1, 1, 1)  # (B,512,4,4)
        x = pixel_norm(lrelu(x))
        x = pixel_norm(lrelu(self.conv4(x)))  # (B, 512, 4, 4)
        prev = None
        for k in range(1, level + 1):
            prev = x
            x = F.interpolate(x, scale_factor=2, mode="nearest")  # (B, nf, 2H, 2W)
            for conv in self.blocks[k]:
                x = pixel_norm(lrelu(conv(x)))  # (B, nf[k], 4·2^k, 4·2^k)
        return x, prev

    def forward(self, z, level, alpha=1.0):
        x, prev = self.features(z, level)
        out = self.to_rgb[level](x)  # (B, C, R, R), linear: no Tanh in ProGAN
        if level > 0 and alpha < 1:  # fade-in: blend with the previous resolution, upsampled
            old = F.interpolate(self.to_rgb[level - 1](prev), scale_factor=2, mode="nearest")
            out = torch.lerp(old, out, alpha)
        return out


class Discriminator(nn.Module):
    """(B, C, R, R) at level L → (B,) scores (WGAN-GP critic: no sigmoid)."""

    def __init__(self, max_resolution=1024, channels=3, fmap_base=8192, fmap_max=512, group_size=4):
        super().__init__()
        self.max_level, self.group_size = int(math.log2(max_resolution)) - 2, group_size
        nf = [n_features(4 * 2 ** k, fmap_base, fmap_max) for k in range(self.max_level + 1)]
        self.from_rgb = nn.ModuleList([EqConv2d(channels, nf[k], 1) for k in range(self.max_level + 1)])
        self.blocks = nn.ModuleList([None])  # blocks[k] takes level k down to level k − 1
        for k in range(1, self.max_level + 1):
            self.blocks.append(nn.ModuleList([EqConv2d(nf[k], nf[k], 3), EqConv2d(nf[k], nf[k - 1], 3)]))
        self.conv4 = EqConv2d(nf[0] + 1, nf[0], 3)  # + 1: the minibatch-stddev map
        self.dense4 = EqLinear(nf[0] * 16, nf[0])
        self.out = EqLinear(nf[0], 1, gain=1)

    def block(self, x, k):
        for conv in self.blocks[k]:
            x = lrelu(conv(x))
        return F.avg_pool2d(x, 2)  # (B, nf[k−1], H/2, W/2)

    def forward(self, img, level, alpha=1.0):
        x = lrelu(self.from_rgb[level](img))  # (B, nf[L], R, R)
        if level > 0:
            x = self.block(x, level)
            if alpha < 1:  # fade-in: blend with the previous resolution's fromRGB of the downsampled image
                x = torch.lerp(lrelu(self.from_rgb[level - 1](F.avg_pool2d(img, 2))), x, alpha)
            for k in range(level - 1, 0, -1):
                x = self.block(x, k)
        x = minibatch_stddev(x, self.group_size)  # (B, 513, 4, 4)
        x = lrelu(self.conv4(x))                  # (B, 512, 4, 4)
        x = lrelu(self.dense4(x.flatten(1)))      # (B, 512)
        return self.out(x).squeeze(1)             # (B,)


def shape_check(max_resolution=1024):
    """Parameter counts at `max_resolution` and the output shapes at 4×4 and 8×8 (mid-fade)."""
    G, D = Generator(max_resolution), Discriminator(max_resolution)
    z = torch.randn(4, 512)
    with torch.no_grad():
        shapes = [(tuple(G(z, lv, 0.5).shape), tuple(D(G(z, lv, 0.5), lv, 0.5).shape)) for lv in (0, 1)]
    return sum(p.numel() for p in G.parameters()), sum(p.numel() for p in D.parameters()), shapes


if __name__ == "__main__":
    g, d, shapes = shape_check()
    print(f"at 1024×1024: G {g:,} parameters, D {d:,} (paper: 23.1 M each); outputs {shapes}")
