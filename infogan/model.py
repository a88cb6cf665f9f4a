"""InfoGAN's MNIST networks (Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by Information
Maximizing Generative Adversarial Nets", https://arxiv.org/abs/1606.03657, Appendix C.1 and Table 1).

G maps the latent (62 noise dims, a 10-way categorical code as one-hot, 2 continuous codes: 74 in all) through two
fully connected layers (1024, then 7·7·128) and two 4×4 stride-2 transposed convolutions to a 28×28 image. D and the
recognition network Q share everything but their last layers: two 4×4 stride-2 convolutions (64, 128) and a
1024-unit layer; D adds one linear unit (the real/fake logit), Q a 128-unit layer and the codes' parameters (10
categorical logits and the 2 continuous codes' means, and their log-σ when σ is learned). BatchNorm everywhere
but D's first layer and the output layers; LeakyReLU 0.1 in D/Q (the official code's `leaky_rectify` default),
ReLU in G.

Differences from the paper: G ends in Tanh for images in [-1, 1] (the official code's output is the mean of a
Bernoulli, a sigmoid for [0, 1]: the same curve, scaled).
"""
import torch
from torch import nn


class Generator(nn.Module):
    """latent (B, noise_dim + n_cat + n_cont) → image (B, channels, 28, 28) in [-1, 1]."""

    def __init__(self, noise_dim=62, n_cat=10, n_cont=2, channels=1):
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(noise_dim + n_cat + n_cont, 1024), nn.BatchNorm1d(1024), nn.ReLU(True),  # (B, 1024)
            nn.Linear(1024, 128 * 7 * 7), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU(True),  # (B, 6272)
        )
        self.conv = nn.Sequential(
            nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(True),  # (B, 64, 14, 14)
            nn.ConvTranspose2d(64, channels, 4, 2, 1), nn.Tanh(),  # (B, C, 28, 28)
        )

    def forward(self, latent):
        return self.conv(self.fc(latent).view(-1, 128, 7, 7))


class DiscriminatorQ(nn.Module):
    """image (B, channels, 28, 28) → D's logit (B,), and Q's code parameters: categorical logits (B, n_cat),
    continuous means (B, n_cont), and their log-σ (B, n_cont) or None when σ is fixed at 1."""

    def __init__(self, n_cat=10, n_cont=2, channels=1, learn_sigma=False):
        super().__init__()
        self.n_cat, self.n_cont, self.learn_sigma = n_cat, n_cont, learn_sigma
        self.shared = nn.Sequential(
            nn.Conv2d(channels, 64, 4, 2, 1), nn.LeakyReLU(0.1, True),  # (B, 64, 14, 14)
            nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.LeakyReLU(0.1, True),  # (B, 128, 7, 7)
            nn.Flatten(),  # (B, 6272)
            nn.Linear(128 * 7 * 7, 1024), nn.BatchNorm1d(1024), nn.LeakyReLU(0.1, True),  # (B, 1024)
        )
        self.d_head = nn.Linear(1024, 1)  # (B, 1)
        self.q_head = nn.Sequential(
            nn.Linear(1024, 128), nn.BatchNorm1d(128), nn.LeakyReLU(0.1, True),  # (B, 128)
            nn.Linear(128, n_cat + n_cont * (2 if learn_sigma else 1)),  # (B, 10 + 2 [+ 2])
        )

    def forward(self, x):
        h = self.shared(x)
        q = self.q_head(h)
        cat_logits, cont_mean = q[:, :self.n_cat], q[:, self.n_cat:self.n_cat + self.n_cont]
        cont_log_std = q[:, self.n_cat + self.n_cont:] if self.learn_sigma else None
        return self.d_head(h).flatten(), (cat_logits, cont_mean, cont_log_std)


def shape_check(batch=2):
    """Default-config shapes, as in the README's layer table."""
    G, DQ = Generator(), DiscriminatorQ()
    x = G(torch.rand(batch, 74) * 2 - 1)
    assert x.shape == (batch, 1, 28, 28), x.shape
    logit, (cat, mean, log_std) = DQ(x)
    assert logit.shape == (batch,) and cat.shape == (batch, 10) and mean.shape == (batch, 2) and log_std is None
    return x.shape, logit.shape, cat.shape, mean.shape


if __name__ == "__main__":
    print(shape_check())
