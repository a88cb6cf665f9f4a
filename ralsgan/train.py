"""Train a relativistic GAN (Jolicoeur-Martineau 2018, https://arxiv.org/abs/1807.00734) on DCGAN's nets at 64×64.

    python ralsgan/train.py --epochs 5                     # RaLSGAN on MNIST (downloaded, or the offline fallback)
    python ralsgan/train.py --loss rasgan --dataset cifar10 --data_root data
    python ralsgan/train.py --resume                       # continue from ralsgan/checkpoints/last.pt

Defaults are the paper's 64×64 CAT runs (official code, unstable.sh "Meow tests 64x64"): RaLSGAN on DCGAN's nets,
Adam lr 2e-4 β = (0.5, 0.999), n_D = 1, batch 32, z of 128 dims, widths 64 in G and D, N(0, 0.02) init.
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
from utils import LOSSES, relativistic_loss, save_samples

IMG_SIZE = 64  # the paper's resolution; the layer stack in model.py is built for it


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=positive_int, default=5, help="passes over the data")
    p.add_argument("--loss", default="ralsgan", choices=LOSSES,
                   help="relativistic standard, average standard, average least-squares or average hinge GAN")
    p.add_argument("--batch_size", type=positive_int, default=32, help="paper and official code: 32")
    p.add_argument("--lr", type=positive_float, default=2e-4, help="Adam learning rate (D and G); paper: 2e-4")
    p.add_argument("--beta1", type=unit_float, default=0.5, help="Adam β1; paper: 0.5 (0.9 oscillates)")
    p.add_argument("--beta2", type=unit_float, default=0.999, help="Adam β2; paper: 0.999")
    p.add_argument("--z_dim", type=positive_int, default=128, help="noise dimensions; official code: 128")
    p.add_argument("--ngf", type=positive_int, default=64,
                   help="G width: 8·ngf channels at 4×4; the paper's 64×64 runs: 64 (the official script's argparse "
                        "default, 128, is not the paper's; at 128 one Adam step moves D's scores by several units "
                        "against least-squares targets ±1 apart: README.md)")
    p.add_argument("--ndf", type=positive_int, default=64,
                   help="D width: ndf channels at 32×32; the paper's 64×64 runs: 64 (128: see --ngf)")
    add_data_args(p)
    add_run_args(p, HERE, cuda_graphs=True)
    add_eval_args(p)
    return p.parse_args(argv)


def train_one_epoch(G, D, opt_G, opt_D, run, args):
    scaler = run.scaler  # --amp fp16 scales the losses against underflow; otherwise its calls pass straight through
    loss_fn = relativistic_loss(args.loss)

    def step(real):  # real: (B, C, 64, 64) in [-1, 1]
        z = run.randn(real.shape[0], args.z_dim, 1, 1)  # (B, 128, 1, 1)

        # (1) Update D: real more realistic than the (average) fake, the fake less than the (average) real
        with run.autocast():
            fake = G(z)  # (B, C, 64, 64)
            real_scores, fake_scores = D(real).float(), D(fake.detach()).float()  # C(x_r), C(x_f): (B,) each
            loss_D, _ = loss_fn(real_scores, fake_scores)
        opt_D.zero_grad(set_to_none=True)
        scaler.scale(loss_D).backward()
        average_gradients(opt_D)  # torchrun: the mean of every process's gradients (nothing in one process)
        scaler.step(opt_D)

        # (2) Update G: the same relation with real and fake swapped. It needs C(x_r) too, from the D just updated
        # (the official code scores the reals again in its G step; D's weights are not stepped here)
        with run.autocast():
            with torch.no_grad():
                real_scores_now = D(real).float()
            _, loss_G = loss_fn(real_scores_now, D(fake).float())
        opt_G.zero_grad(set_to_none=True)
        scaler.scale(loss_G).backward()
        average_gradients(opt_G)
        scaler.step(opt_G)
        return dict(loss_D=loss_D, loss_G=loss_G, C_real=real_scores.mean(), C_fake=fake_scores.mean())

    step = run.graphed(step, opt_D, opt_G)  # --cuda_graphs: recorded once, replayed
    for real, _ in run.batches():
        scalars = step(real.to(run.device, non_blocking=True))
        scaler.update()  # once per step, after every optimizer stepped
        run.step_done(**scalars)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    run = Run(args, "ralsgan", argv)  # on --resume, args become the checkpoint's
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
    fixed_z = run.fixed_noise(64, args.z_dim, 1, 1)  # the same 64 points every epoch: progress is comparable
    for epoch in run.epochs():
        train_one_epoch(G, D, opt_G, opt_D, run, args)
        save_samples(G, fixed_z, run, f"epoch_{epoch + 1:03d}")


if __name__ == "__main__":
    main_guard(main)
