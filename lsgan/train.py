"""Train LSGAN (Mao et al. 2017, https://arxiv.org/abs/1611.04076) at 64×64.

    python lsgan/train.py --epochs 5                       # MNIST (downloaded, or the offline fallback)
    python lsgan/train.py --coding pearson --dataset celeba --data_root data
    python lsgan/train.py --resume                         # continue from lsgan/checkpoints/last.pt

Defaults are the paper's and its official code's (train_lsun.py): coding a-b-c = 0-1-1, Adam lr 1e-3 β1 0.5,
batch 64, z of 1024 dims uniform in [−1, 1], N(0, 0.02) init.
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
from utils import CODINGS, d_loss, g_loss, save_samples

IMG_SIZE = 64  # the paper's resolution; the layer stack in model.py is built for it


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=positive_int, default=5, help="passes over the data")
    p.add_argument("--coding", default="0-1-1", choices=list(CODINGS),
                   help="the codes a-b-c: 0-1-1 (G: as real as possible, the paper's experiments) or pearson "
                        "(a -1, b 1, c 0: minimises the Pearson chi-squared divergence)")
    p.add_argument("--batch_size", type=positive_int, default=64, help="official code: 64")
    p.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate; official code (LSUN): 1e-3")
    p.add_argument("--beta1", type=unit_float, default=0.5, help="Adam β1; official code: 0.5")
    p.add_argument("--beta2", type=unit_float, default=0.999, help="Adam β2 (TensorFlow's default)")
    p.add_argument("--z_dim", type=positive_int, default=1024, help="noise dims, uniform in [-1, 1]; paper: 1024")
    p.add_argument("--ngf", type=positive_int, default=64, help="G width: 4·ngf channels at 4×4 to 16×16 (paper: 256)")
    p.add_argument("--ndf", type=positive_int, default=64, help="D width: ndf channels at 32×32 (paper: 64)")
    add_data_args(p)
    add_run_args(p, HERE, cuda_graphs=True)
    add_eval_args(p)
    return p.parse_args(argv)


def train_one_epoch(G, D, opt_G, opt_D, run, args):
    scaler = run.scaler  # --amp fp16 scales the losses against underflow; otherwise its calls pass straight through
    a, b, c = CODINGS[args.coding]

    def step(real):  # real: (B, C, 64, 64) in [-1, 1]
        z = run.rand(real.shape[0], args.z_dim) * 2 - 1  # (B, 1024), U(−1, 1)

        # (1) Update D: minimize ½ E[(D(x) − b)²] + ½ E[(D(G(z)) − a)²]
        with run.autocast():
            fake = G(z)  # (B, C, 64, 64)
            real_scores, fake_scores = D(real).float(), D(fake.detach()).float()  # detach: trains D only
            loss_D = d_loss(real_scores, fake_scores, a, b)
        opt_D.zero_grad(set_to_none=True)
        scaler.scale(loss_D).backward()
        average_gradients(opt_D)  # torchrun: the mean of every process's gradients (nothing in one process)
        scaler.step(opt_D)

        # (2) Update G: minimize ½ E[(D(G(z)) − c)²]
        with run.autocast():
            loss_G = g_loss(D(fake).float(), c)
        opt_G.zero_grad(set_to_none=True)
        scaler.scale(loss_G).backward()
        average_gradients(opt_G)
        scaler.step(opt_G)
        return dict(loss_D=loss_D, loss_G=loss_G, D_real=real_scores.mean(), D_fake=fake_scores.mean())

    step = run.graphed(step, opt_D, opt_G)  # --cuda_graphs: recorded once, replayed
    for real, _ in run.batches():
        scalars = step(real.to(run.device, non_blocking=True))
        scaler.update()  # once per step, after every optimizer stepped
        run.step_done(**scalars)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    run = Run(args, "lsgan", argv)  # on --resume, args become the checkpoint's
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
    if args.eval_every:  # FID (or KID) every N epochs, best.pt kept (evaluation/scoring.py)
        from evaluation.scoring import SampleEvaluation  # the scoring modules load only when asked for
        run.evaluate_with(SampleEvaluation(args, run.device, [G], lambda n, g: draw(G, vars(args), n, g),
                                           dataset.source))

    run.make_loader(dataset, args.batch_size)
    fixed_z = run.fixed_noise(64, args.z_dim, uniform=True)  # the same 64 points every epoch: comparable grids
    for epoch in run.epochs():
        train_one_epoch(G, D, opt_G, opt_D, run, args)
        save_samples(G, fixed_z, run, f"epoch_{epoch + 1:03d}")


if __name__ == "__main__":
    main_guard(main)
