"""Train DCGAN (Radford et al. 2016, https://arxiv.org/abs/1511.06434) at 64×64.

    python dcgan/train.py --epochs 5                       # MNIST (downloaded, or the offline fallback)
    python dcgan/train.py --dataset celeba --data_root data
    python dcgan/train.py --resume                         # continue from dcgan/checkpoints/last.pt

Defaults are the paper's (Section 4): Adam, lr 2e-4, β1 0.5, batch 128, z of 100 dims, N(0, 0.02) init.
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))  # the repo root, for common/ (this folder stays first for model.py)

import torch

from common.distributed import average_gradients
from common.flags import (ArgumentParser, add_data_args, add_eval_args, add_run_args, positive_float, positive_int,
                          unit_float)
from common.run import Run, main_guard
from dataset import make_dataset
from model import Discriminator, Generator, init_weights
from sample import draw
from utils import d_loss, g_loss, save_samples

IMG_SIZE = 64  # the paper's resolution; the layer stack in model.py is built for it


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=positive_int, default=5, help="passes over the data (the paper: 1-5 on LSUN)")
    p.add_argument("--batch_size", type=positive_int, default=128, help="paper: 128")
    p.add_argument("--lr", type=positive_float, default=2e-4, help="Adam learning rate; paper: 2e-4 (1e-3 too high)")
    p.add_argument("--beta1", type=unit_float, default=0.5, help="Adam β1; paper: 0.5 (0.9 oscillates)")
    p.add_argument("--beta2", type=unit_float, default=0.999, help="Adam β2 (PyTorch/Torch default)")
    p.add_argument("--z_dim", type=positive_int, default=100, help="noise dimensions; paper: 100")
    p.add_argument("--ngf", type=positive_int, default=128, help="G width: 8·ngf channels at 4×4 (paper: 1024)")
    p.add_argument("--ndf", type=positive_int, default=64, help="D width: ndf channels at 32×32")
    add_data_args(p)
    add_run_args(p, HERE, cuda_graphs=True)
    add_eval_args(p)
    return p.parse_args(argv)


def train_one_epoch(G, D, opt_G, opt_D, run, args):
    scaler = run.scaler  # --amp fp16 scales the losses against underflow; otherwise its calls pass straight through

    def step(real):  # real: (B, C, 64, 64) in [-1, 1]
        z = run.randn(real.shape[0], args.z_dim, 1, 1)  # (B, 100, 1, 1)

        # (1) Update D: maximize log D(x) + log(1 − D(G(z)))
        with run.autocast():
            fake = G(z)  # (B, C, 64, 64)
            real_logits, fake_logits = D(real), D(fake.detach())  # detach: this step trains D only
            loss_D = d_loss(real_logits, fake_logits)
        opt_D.zero_grad(set_to_none=True)
        scaler.scale(loss_D).backward()
        average_gradients(opt_D)  # torchrun: the mean of every process's gradients (nothing in one process)
        scaler.step(opt_D)

        # (2) Update G: maximize log D(G(z))  (the non-saturating form)
        with run.autocast():
            loss_G = g_loss(D(fake))
        opt_G.zero_grad(set_to_none=True)
        scaler.scale(loss_G).backward()
        average_gradients(opt_G)
        scaler.step(opt_G)
        return dict(loss_D=loss_D, loss_G=loss_G,
                    D_x=torch.sigmoid(real_logits).mean(), D_G_z=torch.sigmoid(fake_logits).mean())

    step = run.graphed(step, opt_D, opt_G)  # --cuda_graphs: the step recorded once, then replayed
    for real, _ in run.batches():
        scalars = step(real.to(run.device, non_blocking=True))
        scaler.update()  # once per step, after both optimizers stepped
        run.step_done(**scalars)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    run = Run(args, "dcgan", argv)  # on --resume, args become the checkpoint's
    args = run.args
    with run.main_first():  # torchrun: one download, not one per process
        dataset = make_dataset(args, IMG_SIZE)
    args.channels = dataset.source.channels  # resolved, so sample.py and --resume rebuild the same nets

    G = Generator(args.z_dim, args.channels, args.ngf).to(run.device)
    D = Discriminator(args.channels, args.ndf).to(run.device)
    G.apply(init_weights)
    D.apply(init_weights)
    betas = (args.beta1, args.beta2)
    opt_G = torch.optim.Adam(G.parameters(), lr=args.lr, betas=betas, fused=run.fused)
    opt_D = torch.optim.Adam(D.parameters(), lr=args.lr, betas=betas, fused=run.fused)
    run.track(nets={"G": G, "D": D}, optimizers={"G": opt_G, "D": opt_D})
    run.summary(dataset.source.name, len(dataset))
    run.restore()
    if args.eval_every:  # FID (or KID) every N epochs, best.pt kept
        from evaluation.scoring import SampleEvaluation  # the scoring modules load only when asked for
        run.evaluate_with(SampleEvaluation(args, run.device, [G], lambda n, g: draw(G, vars(args), n, g),
                                           dataset.source))

    run.make_loader(dataset, args.batch_size)
    fixed_z = run.fixed_noise(64, args.z_dim, 1, 1)  # the same 64 points every epoch: progress is comparable
    for epoch in run.epochs():
        train_one_epoch(G, D, opt_G, opt_D, run, args)
        save_samples(G, fixed_z, run, f"epoch_{epoch + 1:03d}")


if __name__ == "__main__":
    main_guard(main)
