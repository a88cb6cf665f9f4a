"""BigGAN networks (Brock, Donahue & Simonyan 2019, "Large Scale GAN Training for High Fidelity Natural Image
Synthesis", https://arxiv.org/abs/1809.11096), the architecture of its Appendix B (BigGAN, not BigGAN-deep).

- G: z is split into equal chunks, one for the first linear layer and one per residual block (hierarchical
  latents); each block's chunk is concatenated with a class embedding shared by all blocks (128-d) and projected
  linearly to the gains and biases of that block's two class-conditional BatchNorms (gain = 1 + projection).
  ResBlock up: BN, ReLU, upsample ×2 (nearest), conv 3×3, BN, ReLU, conv 3×3, plus a 1×1 conv on the upsampled
  input as the shortcut. One self-attention block (SAGAN's) at 64×64 in the 128 model. Then BN, ReLU, conv 3×3
  to RGB, tanh.
- D: ResBlock down (ReLU, conv 3×3, ReLU, conv 3×3, 2×2 average pool; the shortcut a 1×1 conv and the pool; no
  ReLU before the first block), the same self-attention, ReLU, global sum pooling, a linear output plus the
  projection term ⟨embed(y), h⟩ (Miyato & Koyama 2018).
- Spectral normalisation (PyTorch's parametrisation, one power iteration per training forward) on every
  convolution, linear layer and D's class embedding; orthogonal initialisation.
Widths and block layout per resolution are those of the paper's Table 4 / the first author's BigGAN-PyTorch
(ajbrock/BigGAN-PyTorch, `BigGAN.py`: G_arch, D_arch), which also gives the 32×32 layout used for CIFAR-10 here.
At 128×128, ch 96, 1,000 classes: G 70,433,988 and D 87,982,370 parameters, 158.4 M together (the paper's
Table 1: 158.3 M for this model).

Differences from the paper: G's shared class embedding is a plain embedding (BigGAN-PyTorch's; only the layers
that read it are spectrally normalised).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

SN_EPS = 1e-6  # spectral norm's ε, BigGAN-PyTorch's launch scripts (--SN_eps 1e-6)
BN_EPS = 1e-5  # BatchNorm's ε (--BN_eps 1e-5)

# Channel multipliers of ch per block (BigGAN-PyTorch's G_arch / D_arch); attention after the block that outputs
# the given resolution
G_ARCH = {32: ([4, 4, 4], [4, 4, 4]), 64: ([16, 16, 8, 4], [16, 8, 4, 2]),
          128: ([16, 16, 8, 4, 2], [16, 8, 4, 2, 1]), 256: ([16, 16, 8, 8, 4, 2], [16, 8, 8, 4, 2, 1])}
D_ARCH = {32: ([3, 4, 4, 4], [4, 4, 4, 4], [True, True, False, False]),
          64: ([3, 1, 2, 4, 8], [1, 2, 4, 8, 16], [True, True, True, True, False]),
          128: ([3, 1, 2, 4, 8, 16], [1, 2, 4, 8, 16, 16], [True] * 5 + [False]),
          256: ([3, 1, 2, 4, 8, 8, 16], [1, 2, 4, 8, 8, 16, 16], [True] * 6 + [False])}


def sn_conv(cin, cout, kernel=3, bias=True, init="ortho"):
    conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=bias)
    return spectral_norm(initialise(conv, init), eps=SN_EPS)


def sn_linear(cin, cout, bias=True, init="ortho"):
    return spectral_norm(initialise(nn.Linear(cin, cout, bias=bias), init), eps=SN_EPS)


def initialise(module, init):
    """BigGAN's orthogonal initialisation of a weight (or N(0, 0.02), Xavier; None leaves PyTorch's)."""
    if init == "ortho":
        nn.init.orthogonal_(module.weight)
    elif init == "N02":
        nn.init.normal_(module.weight, 0, 0.02)
    elif init == "xavier":
        nn.init.xavier_uniform_(module.weight)
    return module


class ConditionalBatchNorm(nn.Module):
    """BatchNorm without its own affine, then a gain 1 + W_g·c and a bias W_b·c per channel, from the condition c
    (z's chunk and the shared class embedding), W_g and W_b spectrally normalised linear maps."""

    def __init__(self, channels, cond_dim, init="ortho"):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, eps=BN_EPS, affine=False)
        self.gain = sn_linear(cond_dim, channels, bias=False, init=init)
        self.bias = sn_linear(cond_dim, channels, bias=False, init=init)

    def forward(self, x, c):
        return self.bn(x) * (1 + self.gain(c))[:, :, None, None] + self.bias(c)[:, :, None, None]


class GBlock(nn.Module):
    """ResBlock up (Figure 15b): BN, ReLU, upsample, conv 3×3, BN, ReLU, conv 3×3; shortcut: upsample, conv 1×1."""

    def __init__(self, cin, cout, cond_dim, init="ortho"):
        super().__init__()
        self.bn1, self.bn2 = ConditionalBatchNorm(cin, cond_dim, init), ConditionalBatchNorm(cout, cond_dim, init)
        self.conv1, self.conv2 = sn_conv(cin, cout, init=init), sn_conv(cout, cout, init=init)
        self.conv_sc = sn_conv(cin, cout, 1, init=init)

    def forward(self, x, c):
        h = F.interpolate(F.relu(self.bn1(x, c)), scale_factor=2)  # (B, C_in, 2H, 2W)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), c)))  # (B, C_out, 2H, 2W)
        return h + self.conv_sc(F.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
    """ResBlock down (Figure 15c): [ReLU], conv 3×3, ReLU, conv 3×3, [avg-pool 2]; shortcut conv 1×1, [avg-pool]."""

    def __init__(self, cin, cout, preactivation=True, downsample=True, init="ortho"):
        super().__init__()
        self.preactivation, self.downsample = preactivation, downsample
        self.conv1, self.conv2 = sn_conv(cin, cout, init=init), sn_conv(cout, cout, init=init)
        self.conv_sc = sn_conv(cin, cout, 1, init=init) if cin != cout or downsample else None

    def forward(self, x):
        h = F.relu(x) if self.preactivation else x
        h = self.conv2(F.relu(self.conv1(h)))  # (B, C_out, H, W)
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        sc = x
        if self.preactivation:  # conv, then pool (BigGAN-PyTorch's order; the first block pools first)
            sc = self.conv_sc(sc) if self.conv_sc is not None else sc
            sc = F.avg_pool2d(sc, 2) if self.downsample else sc
        else:
            sc = F.avg_pool2d(sc, 2) if self.downsample else sc
            sc = self.conv_sc(sc) if self.conv_sc is not None else sc
        return h + sc


class SelfAttention(nn.Module):
    """SAGAN's non-local block: x + γ · o(g(x) · softmax(θ(x)ᵀ φ(x))ᵀ), φ and g max-pooled 2×2, γ starting at 0."""

    def __init__(self, channels, init="ortho"):
        super().__init__()
        if channels < 8:
            raise ValueError(f"self-attention needs at least 8 channels (it reduces them 8×), got {channels}")
        self.theta = sn_conv(channels, channels // 8, 1, bias=False, init=init)
        self.phi = sn_conv(channels, channels // 8, 1, bias=False, init=init)
        self.g = sn_conv(channels, channels // 2, 1, bias=False, init=init)
        self.o = sn_conv(channels // 2, channels, 1, bias=False, init=init)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        B, C, H, W = x.shape
        theta = self.theta(x).flatten(2)  # (B, C/8, HW)
        phi = F.max_pool2d(self.phi(x), 2).flatten(2)  # (B, C/8, HW/4)
        g = F.max_pool2d(self.g(x), 2).flatten(2)  # (B, C/2, HW/4)
        beta = torch.softmax(theta.transpose(1, 2) @ phi, dim=-1)  # (B, HW, HW/4)
        o = self.o((g @ beta.transpose(1, 2)).view(B, C // 2, H, W))  # (B, C, H, W)
        return x + self.gamma * o


class Generator(nn.Module):
    """z (B, dim_z), y (B,) → image (B, 3, R, R) in [-1, 1]."""

    def __init__(self, resolution=128, ch=96, dim_z=120, shared_dim=128, n_classes=1000, attention=64,
                 channels=3, init="ortho"):
        super().__init__()
        cin, cout = ([m * ch for m in mults] for mults in G_ARCH[resolution])
        self.n_blocks = len(cin)
        if dim_z % (self.n_blocks + 1):
            raise ValueError(f"dim_z {dim_z} must split into {self.n_blocks + 1} equal chunks (one per block + 1)")
        self.chunk, self.dim_z, self.n_classes = dim_z // (self.n_blocks + 1), dim_z, n_classes
        self.shared = nn.Embedding(n_classes, shared_dim)  # the class embedding every block reads
        initialise(self.shared, init)
        self.linear = sn_linear(self.chunk, cin[0] * 16, init=init)  # z's first chunk → (B, 16ch, 4, 4)
        self.blocks = nn.ModuleList([GBlock(a, b, shared_dim + self.chunk, init) for a, b in zip(cin, cout)])
        res = [8 * 2 ** i for i in range(self.n_blocks)]  # each block's output resolution
        self.attention_after = res.index(attention) if attention in res else None
        self.attention = SelfAttention(cout[self.attention_after], init) if self.attention_after is not None else None
        self.bn = nn.BatchNorm2d(cout[-1], eps=BN_EPS)
        self.conv_out = sn_conv(cout[-1], channels, init=init)

    def forward(self, z, y):
        chunks = z.split(self.chunk, dim=1)  # (B, chunk) × (blocks + 1): hierarchical latents
        embed = self.shared(y)  # (B, 128)
        h = self.linear(chunks[0]).view(z.shape[0], -1, 4, 4)  # (B, 16ch, 4, 4)
        for i, block in enumerate(self.blocks):
            h = block(h, torch.cat([embed, chunks[i + 1]], dim=1))  # (B, C_i, 8·2^i, 8·2^i)
            if i == self.attention_after:
                h = self.attention(h)
        return torch.tanh(self.conv_out(F.relu(self.bn(h))))  # (B, 3, R, R)


class Discriminator(nn.Module):
    """(B, 3, R, R), y (B,) → logits (B,): ψ(Σ h) + ⟨embed(y), Σ h⟩ over the final features h."""

    def __init__(self, resolution=128, ch=96, n_classes=1000, attention=64, channels=3, init="ortho"):
        super().__init__()
        mult_in, mult_out, down = D_ARCH[resolution]
        cin = [channels] + [m * ch for m in mult_in[1:]]
        cout = [m * ch for m in mult_out]
        self.blocks = nn.ModuleList([DBlock(a, b, preactivation=i > 0, downsample=d, init=init)
                                     for i, (a, b, d) in enumerate(zip(cin, cout, down))])
        res, r = [], resolution
        for d in down:
            r = r // 2 if d else r
            res.append(r)  # each block's output resolution
        self.attention_after = res.index(attention) if attention in res else None
        self.attention = SelfAttention(cout[self.attention_after], init) if self.attention_after is not None else None
        self.linear = sn_linear(cout[-1], 1, init=init)
        self.embed = spectral_norm(initialise(nn.Embedding(n_classes, cout[-1]), init), eps=SN_EPS)

    def forward(self, x, y):
        h = x
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == self.attention_after:
                h = self.attention(h)
        h = F.relu(h).sum(dim=(2, 3))  # (B, 16ch): global sum pooling
        return self.linear(h).squeeze(1) + (self.embed(y) * h).sum(dim=1)  # (B,): ψ(h) + projection


def shape_check(resolution=32, ch=8, n_classes=10, attention=16):
    """Output shapes of a small model (the 128 ch-96 counts are in the README and tests)."""
    G = Generator(resolution, ch, 4 * (len(G_ARCH[resolution][0]) + 1), 16, n_classes, attention)
    D = Discriminator(resolution, ch, n_classes, attention)
    z, y = torch.randn(2, G.dim_z), torch.tensor([0, n_classes - 1])
    with torch.no_grad():
        x = G(z, y)
        return tuple(x.shape), tuple(D(x, y).shape)


if __name__ == "__main__":
    print(shape_check())
