"""StyleGAN networks (Karras, Laine & Aila 2019, "A Style-Based Generator Architecture for Generative Adversarial
Networks", https://arxiv.org/abs/1812.04948).

Unlike a traditional generator, this one does not take the latent at its input (Section 2). A mapping network f
turns z into an intermediate latent w, and the synthesis network g starts from a learned 4×4 constant; after every
convolution, a learned affine map A of w gives a style y = (y_s, y_b) that adaptive instance normalisation (AdaIN)
applies to the feature maps, and a single-channel Gaussian noise image, scaled per channel by learned factors B,
adds stochastic detail (Figure 1b). Each layer has its own copy of w, so two latents can control different layers
(style mixing, Section 3.1).

Layers as the paper and the official code (NVlabs/stylegan, `training/networks_stylegan.py`: G_mapping,
G_synthesis, D_basic), growing progressively as ProGAN (progan/, whose phase schedule, equalized learning rate and
minibatch-stddev discriminator this folder copies):
- mapping: z (512) pixel-normalised, 8 dense layers of 512 with LReLU 0.2 and a learning-rate multiplier of 0.01;
- synthesis: the constant (ones) → [noise, bias, LReLU, AdaIN] → conv 3×3 → [noise, bias, LReLU, AdaIN] at 4×4;
  per resolution after that, upsample ×2 (nearest) → conv 3×3 → blur with the binomial filter [1, 2, 1]
  (bilinear) → epilogue, conv 3×3 → epilogue; widths nf(r) as ProGAN; toRGB 1×1 per resolution for the fade-in;
- A: a dense layer w → 2·C with gain 1 and zero-initialised bias, the scale taken as y_s + 1 so every style
  starts at the identity; B: per-channel noise weights, zero at the start; noise inputs fresh each call or, with
  noise_mode="const", the fixed buffers `noise` (random at creation, saved with the weights);
- D: ProGAN's, with the blur before each downsampling convolution.
At 1024×1024 G has 26,219,627 parameters (the paper, Section 2: "26.2M trainable parameters") and D 23,087,249
(ProGAN's 23.1 M).

Differences from the paper: none in the layers. The official code fuses upsampling/downsampling with the
convolution at 128×128 and above (a transposed or strided convolution with the kernel summed over the 2×2
shifts); that equals the separate nearest-upsample + conv / conv + 2×2 average used here at every resolution.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def n_features(resolution, fmap_base=8192, fmap_max=512):
    """nf at `resolution`: fmap_base / 2^(stage), stage = log2(resolution) − 1, at most fmap_max (ProGAN's)."""
    return min(int(fmap_base / 2 ** (math.log2(resolution) - 1)), fmap_max)


class EqLinear(nn.Module):
    """Dense layer with equalized learning rate and a learning-rate multiplier (the mapping network's 0.01): w is
    stored ~ N(0, 1/lr_mul) and used as w · lr_mul · gain/√fan_in, the bias as b · lr_mul, so Adam's steps on the
    stored values move the used ones lr_mul times as fast as elsewhere."""

    def __init__(self, cin, cout, gain=math.sqrt(2), lr_mul=1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin) / lr_mul)
        self.bias = nn.Parameter(torch.zeros(cout))
        self.w_scale, self.b_scale = gain / math.sqrt(cin) * lr_mul, lr_mul

    def forward(self, x):
        return F.linear(x, self.weight * self.w_scale, self.bias * self.b_scale)


class EqConv2d(nn.Module):
    """Conv with equalized learning rate: w ~ N(0, 1) stored, w · gain/√fan_in used (ProGAN, Section 4.1). The
    styled layers add their bias themselves, after the blur and the noise, as the official code."""

    def __init__(self, cin, cout, kernel, gain=math.sqrt(2), bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.scale, self.padding = gain / math.sqrt(cin * kernel * kernel), kernel // 2

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


def lrelu(x):
    return F.leaky_relu(x, 0.2)


def pixel_norm(x, eps=1e-8):
    """x / √(mean of x² over features + ε): z's normalisation before the mapping network."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


def blur(x):
    """The binomial low-pass filter [1, 2, 1] ⊗ [1, 2, 1] / 16 per channel, zero-padded ("bilinear" in the paper:
    applied after each upsampling in G and before each downsampling in D)."""
    k = torch.tensor([1.0, 2.0, 1.0], device=x.device, dtype=x.dtype)
    k = (k[:, None] * k[None, :] / 16).expand(x.shape[1], 1, 3, 3)  # (C, 1, 3, 3): depthwise
    return F.conv2d(x, k, padding=1, groups=x.shape[1])


def instance_norm(x, eps=1e-8):
    """Each channel of each image to mean 0 and (population) std 1 over its pixels."""
    x = x - x.mean(dim=(2, 3), keepdim=True)
    return x * torch.rsqrt(x.pow(2).mean(dim=(2, 3), keepdim=True) + eps)


def adain(x, scale, bias):
    """AdaIN(x_i, y) = y_s,i · (x_i − μ(x_i)) / σ(x_i) + y_b,i (paper, Eq. 1): x (B, C, H, W), scale and bias
    (B, C); every channel of the output has mean y_b and std y_s."""
    return instance_norm(x) * scale[:, :, None, None] + bias[:, :, None, None]


class MappingNetwork(nn.Module):
    """f: z (B, z_dim) → w (B, w_dim): pixel norm, `layers` × [dense, LReLU 0.2], learning-rate multiplier 0.01."""

    def __init__(self, z_dim=512, w_dim=512, layers=8, lr_mul=0.01):
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.net = nn.ModuleList([EqLinear(a, b, lr_mul=lr_mul) for a, b in zip(dims[:-1], dims[1:])])

    def forward(self, z):
        x = pixel_norm(z)  # (B, 512)
        for layer in self.net:
            x = lrelu(layer(x))  # (B, 512)
        return x


class StyledLayer(nn.Module):
    """One synthesis layer: the constant as it is (`kind` "const"), conv 3×3 ("conv"), or upsample ×2, conv 3×3 and
    blur ("up"); then the epilogue of every layer: + noise · B (per channel), + bias, LReLU, AdaIN with A(w)."""

    def __init__(self, cin, cout, resolution, w_dim, kind):
        super().__init__()
        self.kind = kind
        self.conv = None if kind == "const" else EqConv2d(cin, cout, 3, bias=False)
        self.noise_strength = nn.Parameter(torch.zeros(cout))  # B: learned per-channel scaling, zero at the start
        self.bias = nn.Parameter(torch.zeros(cout))
        self.affine = EqLinear(w_dim, 2 * cout, gain=1)  # A: w → (y_s − 1, y_b)
        self.register_buffer("noise", torch.randn(1, 1, resolution, resolution))  # noise_mode "const"

    def forward(self, x, w, noise_mode="random", noise_fn=None):
        if self.kind == "up":
            x = blur(self.conv(F.interpolate(x, scale_factor=2, mode="nearest")))  # (B, C', 2H, 2W)
        elif self.kind == "conv":
            x = self.conv(x)  # (B, C', H, W)
        B, _, H, W = x.shape
        if noise_mode == "random":  # a fresh single-channel N(0, 1) image per sample and layer
            noise = (noise_fn or torch.randn)(B, 1, H, W, device=x.device).to(x.dtype)
        else:  # "const": the fixed buffer, the same for every sample (deterministic output)
            noise = self.noise.to(x.dtype)
        x = x + noise * self.noise_strength.view(1, -1, 1, 1)
        x = lrelu(x + self.bias.view(1, -1, 1, 1))
        scale, bias = self.affine(w).chunk(2, dim=1)  # (B, C) each: the style y = (y_s, y_b)
        return adain(x, scale + 1, bias)


class SynthesisNetwork(nn.Module):
    """g: per-layer styles ws (B, num_layers, w_dim) → image at level L (resolution 4·2^L), fading in as ProGAN."""

    def __init__(self, max_resolution=1024, w_dim=512, channels=3, fmap_base=8192, fmap_max=512):
        super().__init__()
        self.max_level = int(math.log2(max_resolution)) - 2
        nf = [n_features(4 * 2 ** k, fmap_base, fmap_max) for k in range(self.max_level + 1)]
        self.const = nn.Parameter(torch.ones(1, nf[0], 4, 4))  # the learned 4×4×512 input, ones at the start
        layers = [StyledLayer(nf[0], nf[0], 4, w_dim, "const"), StyledLayer(nf[0], nf[0], 4, w_dim, "conv")]
        for k in range(1, self.max_level + 1):  # layers 2k and 2k + 1 make level k
            r = 4 * 2 ** k
            layers += [StyledLayer(nf[k - 1], nf[k], r, w_dim, "up"), StyledLayer(nf[k], nf[k], r, w_dim, "conv")]
        self.layers = nn.ModuleList(layers)
        self.num_layers = len(layers)  # 18 at 1024×1024
        self.to_rgb = nn.ModuleList([EqConv2d(nf[k], channels, 1, gain=1) for k in range(self.max_level + 1)])

    def forward(self, ws, level, alpha=1.0, noise_mode="random", noise_fn=None):
        x = self.const.expand(ws.shape[0], -1, -1, -1)  # (B, 512, 4, 4)
        prev = None
        for i in range(2 * level + 2):
            if i >= 2 and i % 2 == 0:
                prev = x  # the previous resolution's features, for the fade-in
            x = self.layers[i](x, ws[:, i], noise_mode, noise_fn)  # (B, nf, 4·2^(i//2), 4·2^(i//2))
        out = self.to_rgb[level](x)  # (B, C, R, R), linear
        if level > 0 and alpha < 1:  # fade-in: blend with the previous resolution, upsampled
            old = F.interpolate(self.to_rgb[level - 1](prev), scale_factor=2, mode="nearest")
            out = torch.lerp(old, out, alpha)
        return out


class Generator(nn.Module):
    """z (B, z_dim) → image (B, C, R, R) at level L. Optionally: a second latent z2 whose w drives the layers from
    `mix_at` on (style mixing), and the truncation trick: w' = w̄ + ψ (w − w̄) on the first `cutoff` layers."""

    def __init__(self, max_resolution=1024, z_dim=512, w_dim=512, channels=3, fmap_base=8192, fmap_max=512,
                 mapping_layers=8):
        super().__init__()
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers)
        self.synthesis = SynthesisNetwork(max_resolution, w_dim, channels, fmap_base, fmap_max)
        self.max_level, self.num_layers = self.synthesis.max_level, self.synthesis.num_layers
        self.register_buffer("w_avg", torch.zeros(w_dim))  # w̄: a moving average of w during training (β 0.995)

    def styles(self, z, z2=None, mix_at=None, psi=1.0, cutoff=8):
        """(ws (B, num_layers, w_dim), w (B, w_dim) of z): w for every layer, z2's w from layer `mix_at` on, then
        truncated toward w̄ on layers < `cutoff` when ψ ≠ 1."""
        w = self.mapping(z)  # (B, 512)
        ws = w.unsqueeze(1).repeat(1, self.num_layers, 1)  # (B, L, 512)
        layer = torch.arange(self.num_layers, device=z.device).view(1, -1, 1)
        if z2 is not None and mix_at is not None:
            ws = torch.where(layer < mix_at, ws, self.mapping(z2).unsqueeze(1))
        if psi != 1:
            ws = torch.where(layer < cutoff, torch.lerp(self.w_avg.to(ws.dtype), ws, psi), ws)
        return ws, w

    def forward(self, z, level, alpha=1.0, z2=None, mix_at=None, psi=1.0, cutoff=8, noise_mode="random",
                noise_fn=None):
        ws, _ = self.styles(z, z2, mix_at, psi, cutoff)
        return self.synthesis(ws, level, alpha, noise_mode, noise_fn)


def minibatch_stddev(x, group_size=4):
    """Append one feature map: the standard deviation of each feature and pixel over a group of `group_size`
    samples, averaged over features and pixels (ProGAN, Section 3); sample i belongs to group i mod (B / group)."""
    B, C, H, W = x.shape
    g = min(group_size, B)
    if B % g:
        g = 1 if B % 2 else 2  # the official code requires divisibility; degrade gracefully on odd batches
    y = x.float().view(g, -1, C, H, W)                          # (G, M, C, H, W)
    y = (y - y.mean(dim=0)).pow(2).mean(dim=0).add(1e-8).sqrt()  # (M, C, H, W) std over the group
    y = y.mean(dim=(1, 2, 3)).view(-1, 1, 1, 1).repeat(g, 1, H, W)  # (B, 1, H, W)
    return torch.cat([x, y.to(x.dtype)], dim=1)                 # (B, C + 1, H, W)


class Discriminator(nn.Module):
    """(B, C, R, R) at level L → (B,) logits: ProGAN's D with the binomial blur before each downsampling."""

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
        conv0, conv1_down = self.blocks[k]
        x = lrelu(conv0(x))  # (B, nf[k], H, W)
        return lrelu(F.avg_pool2d(conv1_down(blur(x)), 2))  # (B, nf[k−1], H/2, W/2)

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
    print(f"at 1024×1024: G {g:,} parameters, D {d:,} (paper: 26.2 M and 23.1 M); outputs {shapes}")
