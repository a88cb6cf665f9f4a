"""CycleGAN's objective (paper, Eq. 3: L = L_GAN(G, D_Y, X, Y) + L_GAN(F, D_X, Y, X) + λ L_cyc(G, F), plus the
identity term of Section 5.2), the image pool, the learning-rate schedule, evaluation and sample grids."""
import torch
import torch.nn.functional as F

from common import distributed


def d_loss(real_logits, fake_logits):
    """Least-squares GAN loss for D (paper, Section 4: "we replace the negative log likelihood objective by a
    least-squares loss"): ½ [E(D(y) − 1)² + E D(G(x))²]. Halved "to slow down the rate at which D learns"."""
    return 0.5 * (F.mse_loss(real_logits, torch.ones_like(real_logits))
                  + F.mse_loss(fake_logits, torch.zeros_like(fake_logits)))


def g_adv_loss(fake_logits):
    """Least-squares GAN loss for a generator: E(D(G(x)) − 1)²."""
    return F.mse_loss(fake_logits, torch.ones_like(fake_logits))


def cycle_loss(reconstructed, real):
    """One direction of L_cyc (Eq. 2): E‖F(G(x)) − x‖₁ (or E‖G(F(y)) − y‖₁), the mean absolute
    difference."""
    return (reconstructed - real).abs().mean()


def identity_loss(same, real):
    """L_identity (Section 5.2, from Taigman et al.): E‖G(y) − y‖₁, which keeps G from changing an image that
    is already in the target domain (it preserves colour composition, e.g. in painting ↔ photo)."""
    return (same - real).abs().mean()


def lr_factor(epoch, epochs, decay_epochs):
    """Learning-rate multiplier for 0-based `epoch` (paper, Section 4: "keep the same learning rate for the first
    100 epochs and linearly decay the rate to zero over the next 100"): the official code's 1 − max(0, e + 1 −
    n) / (n_decay + 1)."""
    return 1.0 - max(0, epoch + 1 - (epochs - decay_epochs)) / (decay_epochs + 1)


class ImagePool:
    """The history of generated images D is trained on (paper, Section 4, from Shrivastava et al. 2017): "we
    update the discriminators using a history of generated images rather than the ones produced by the latest
    generators", a buffer of the 50 last. Until it is full every fake is stored and used; then each fake is, with
    probability ½, used as is, or swapped with a random stored one, which D sees instead (the official code).

    Its contents and the torch RNG it draws from are in the checkpoint, so a resumed run sees the same history.
    It stores copies: with --cuda_graphs the fakes live in the graph's output buffer, overwritten every step.
    Under torchrun every process gathers the global batch of fakes and keeps the same pool of the global stream
    (same contents, same draws from the same random state), then takes its own rows of the answer: the pool is
    the one-process pool, whatever the number of processes, and a checkpoint's pool fits any number of them.
    """

    def __init__(self, size=50, device="cpu"):
        self.size, self.device, self.images = size, device, []

    def query(self, fakes):
        """fakes (B, C, H, W), detached → a batch of the same shape mixing new and stored fakes."""
        if self.size == 0:
            return fakes
        out = []
        for image in distributed.all_gather_batch(fakes.detach()):  # (B, C, H, W) of every process, in rank order
            image = image.unsqueeze(0).clone()  # (1, C, H, W)
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif torch.rand(()) < 0.5:  # CPU generator: part of the checkpointed RNG state
                k = int(torch.randint(len(self.images), ()))
                out.append(self.images[k])
                self.images[k] = image
            else:
                out.append(image)
        return distributed.shard(torch.cat(out))

    def state_dict(self):
        return {"size": self.size, "images": torch.cat(self.images).cpu() if self.images else torch.zeros(0)}

    def load_state_dict(self, state):
        self.size = int(state["size"])
        self.images = [im.unsqueeze(0).to(self.device) for im in state["images"]]


@torch.no_grad()
def evaluate(G, F_, test_x, test_y, device):
    """Cycle-reconstruction error on the test sets: mean |F(G(x)) − x| and |G(F(y)) − y| on the [0, 1] scale."""
    scores = {}
    for name, data, there, back in (("eval_cycle_X", test_x, G, F_), ("eval_cycle_Y", test_y, F_, G)):
        total = 0.0
        for image in torch.utils.data.DataLoader(data, batch_size=1):
            image = image.to(device)
            total += float((back(there(image)).float() - image).abs().mean() / 2)
        scores[name] = total / len(data)
    return scores


@torch.no_grad()
def test_translations(G, F_, test_x, test_y, device):
    """{"XtoY": (G(x) batches, y batches), "YtoX": (F(y) batches, x batches)} as uint8 for FID/KID: each
    direction's translated test images against the real test images of the domain it maps into."""
    from evaluation.metrics import to_uint8  # scoring only: loaded when asked for

    out = {}
    for name, data, net, target in (("XtoY", test_x, G, test_y), ("YtoX", test_y, F_, test_x)):
        fakes = [to_uint8(net(x.to(device))) for x in torch.utils.data.DataLoader(data, batch_size=1)]
        out[name] = (fakes, [to_uint8(y) for y in torch.utils.data.DataLoader(target, batch_size=16)])
    return out


@torch.no_grad()
def save_samples(G, F_, x, y, run, name):
    """A grid with one row per image: x | G(x) | F(G(x)), then y | F(y) | G(F(y))."""
    fake_y, fake_x = G(x), F_(y)
    rows = [torch.stack([x, fake_y.float(), F_(fake_y).float()], 1), torch.stack([y, fake_x.float(),
                                                                                   G(fake_x).float()], 1)]
    run.save_images(torch.cat(rows).flatten(0, 1), name, nrow=3)
