"""Every model at its default configuration: output shapes, parameter counts, logits, initialisation."""
import pytest
import torch

from conftest import ARCHS, load_module


def n_params(net):
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("folder", ARCHS)
def test_shape_check_runs(folder):
    """The `__main__` shape check of each model.py (the README's layer tables)."""
    load_module(folder, "model").shape_check()


def test_simple_gan_shapes_and_params():
    m = load_module("simple_gan", "model")
    G, D = m.Generator(), m.Discriminator()
    x = G(torch.randn(5, 64))
    assert x.shape == (5, 1, 28, 28)
    assert D(x).shape == (5,)
    # D: 784·128 + 128  +  128·1 + 1 ;  G: 64·256 + 256  +  256·784 + 784
    assert n_params(D) == 784 * 128 + 128 + 128 + 1 == 100_609
    assert n_params(G) == 64 * 256 + 256 + 256 * 784 + 784 == 218_128


@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes_and_params(channels):
    m = load_module("dcgan", "model")
    G, D = m.Generator(100, channels), m.Discriminator(channels)
    z = torch.randn(3, 100, 1, 1)
    x = G(z)
    assert x.shape == (3, channels, 64, 64)
    assert D(x).shape == (3,)
    # Intermediate shapes of the paper's Figure 1: 1024×4×4 → 512×8×8 → 256×16×16 → 128×32×32.
    shapes, h = [], z
    for layer in G.net:
        h = layer(h)
        if isinstance(layer, torch.nn.ConvTranspose2d):
            shapes.append(tuple(h.shape[1:]))
    assert shapes == [(1024, 4, 4), (512, 8, 8), (256, 16, 16), (128, 32, 32), (channels, 64, 64)]
    # 4×4 kernels, no conv biases; BatchNorm has 2 parameters per channel.
    g = 16 * (100 * 1024 + 1024 * 512 + 512 * 256 + 256 * 128 + 128 * channels) + 2 * (1024 + 512 + 256 + 128)
    d = 16 * (channels * 64 + 64 * 128 + 128 * 256 + 256 * 512 + 512 * 1) + 2 * (128 + 256 + 512)
    assert n_params(G) == g and n_params(D) == d
    if channels == 3:
        assert (n_params(G), n_params(D)) == (12_658_432, 2_765_568)


@pytest.mark.parametrize("folder", ["simple_gan", "dcgan"])  # critics: test_wgan_family
def test_discriminator_returns_unbounded_logits(folder):
    m = load_module(folder, "model")
    D = m.Discriminator(1) if folder == "dcgan" else m.Discriminator()
    size = 64 if folder == "dcgan" else 28
    with torch.no_grad():
        out = D(torch.randn(16, 1, size, size) * 50)
    assert not isinstance(list(D.modules())[-1], torch.nn.Sigmoid)
    assert (out < 0).any() or (out > 1).any()  # a sigmoid output could never leave [0, 1]


def test_dcgan_init_is_normal_0_002():
    m = load_module("dcgan", "model")
    G = m.Generator()
    G.apply(m.init_weights)
    w = G.net[3].weight  # 1024 → 512 transposed conv: 8.4 M samples
    assert abs(w.mean().item()) < 1e-3 and abs(w.std().item() - 0.02) < 1e-3
    bn = G.net[1]
    assert abs(bn.weight.mean().item() - 1) < 5e-3 and bn.bias.abs().max().item() == 0
