"""Train a conditional GAN (Mirza & Osindero 2014, https://arxiv.org/abs/1411.1784) with the WGAN-GP loss.

    python cgan/train.py --epochs 5                        # MNIST (downloaded, or the offline fallback)
    python cgan/train.py --dataset cifar10 --data_root data
    python cgan/train.py --resume                          # continue from cgan/checkpoints/last.pt

Defaults are WGAN-GP's Algorithm 1: Adam lr 1e-4, β = (0, 0.9), λ = 10, batch m = 64, n_critic = 5.
Each batch is one critic step; G steps once every n_critic batches.
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))  # the repo root, for common/ (this folder stays first for model.py)

import torch

from common.distributed import average_gradients
from common.flags import (ArgumentParser, add_data_args, add_eval_args, add_run_args, positive_float, positive_int,
                          unit_float)
from common.gradient_penalty import gradient_penalty
from common.run import Run, main_guard
from dataset import make_dataset
from model import Critic, Generator, init_weights
from sample import draw
from utils import class_rows, critic_loss, generator_loss, save_samples

IMG_SIZE = 64  # the DCGAN resolution the paper's nets are built for


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=positive_int, default=5, help="passes of the critic over the data")
    p.add_argument("--batch_size", type=positive_int, default=64, help="paper: m = 64")
    p.add_argument("--lr", type=positive_float, default=1e-4, help="Adam learning rate; paper: α = 1e-4")
    p.add_argument("--beta1", type=unit_float, default=0.0, help="Adam β1; paper: 0 (no momentum)")
    p.add_argument("--beta2", type=unit_float, default=0.9, help="Adam β2; paper: 0.9")
    p.add_argument("--lambda_gp", type=positive_float, default=10.0, help="gradient penalty weight λ; paper: 10")
    p.add_argument("--n_critic", type=positive_int, default=5, help="critic steps per G step; paper: 5")
    p.add_argument("--gp_precision", default="fp32", choices=["fp32", "bf16"],
                   help="the penalty's critic pass and double backward: fp32 (autocast off), or bf16 autocast, "
                        "cheaper on hardware with bf16 units and an approximation of the fp32 penalty (the "
                        "interpolates, the gradient and its norm stay fp32; opt-in: docs/speed.md)")
    p.add_argument("--z_dim", type=positive_int, default=100, help="noise dimensions")
    p.add_argument("--embed_dim", type=positive_int, default=100, help="size of G's label embedding")
    p.add_argument("--ngf", type=positive_int, default=128, help="G width: 8·ngf channels at 4×4")
    p.add_argument("--ndf", type=positive_int, default=64, help="critic width: ndf channels at 32×32")
    add_data_args(p, "folder = one sub-folder of images per class under --data_root")
    add_run_args(p, HERE, cuda_graphs=True)
    add_eval_args(p)
    return p.parse_args(argv)


def train_one_epoch(G, C, opt_G, opt_C, run, args):
    scaler = run.scaler  # --amp fp16 scales the losses against underflow; otherwise its calls pass straight through
    gp_dtype = torch.bfloat16 if args.gp_precision == "bf16" else torch.float32

    def critic_step(real, labels):  # real: (B, C, 64, 64) in [-1, 1], labels: (B,) class indices
        z = run.randn(real.shape[0], args.z_dim, 1, 1)  # (B, 100, 1, 1)
        # (1) Update the critic: maximize E[C(x, y)] − E[C(G(z, y), y)] − λ·E[(‖∇C(x̂, y)‖ − 1)²]
        with run.autocast():
            with torch.no_grad():
                fake = G(z, labels)  # (B, C, 64, 64), fakes of the real batch's classes
            real_scores, fake_scores = C(real, labels), C(fake, labels)
        penalty = gradient_penalty(C, real, fake, labels, dtype=gp_dtype)  # eager; fp32 unless --gp_precision bf16
        loss_C = critic_loss(real_scores.float(), fake_scores.float(), penalty, args.lambda_gp)
        opt_C.zero_grad(set_to_none=True)
        scaler.scale(loss_C).backward()
        average_gradients(opt_C)  # torchrun: the mean of every process's gradients (nothing in one process)
        scaler.step(opt_C)
        return dict(loss_C=loss_C, W_estimate=real_scores.mean() - fake_scores.mean(), GP=penalty)

    def generator_step(real, labels):  # only real's batch size is used
        # (2) Every n_critic critic steps, update G: maximize E[C(G(z, y), y)]
        z = run.randn(real.shape[0], args.z_dim, 1, 1)
        C.requires_grad_(False)  # gradients through the critic, not for its weights
        with run.autocast():
            loss_G = generator_loss(C(G(z, labels), labels))
        opt_G.zero_grad(set_to_none=True)
        scaler.scale(loss_G).backward()
        average_gradients(opt_G)
        scaler.step(opt_G)
        C.requires_grad_(True)
        return dict(loss_G=loss_G)

    # --cuda_graphs: each step recorded once and replayed, one launch per step instead of one per kernel
    critic_step, generator_step = run.graphed(critic_step, opt_C), run.graphed(generator_step, opt_G)
    stats = {}
    for real, labels in run.batches():
        real, labels = real.to(run.device, non_blocking=True), labels.to(run.device, non_blocking=True)
        critic_stats = critic_step(real, labels)
        if (run.step + 1) % args.n_critic == 0:
            stats = generator_step(real, labels)
        scaler.update()  # once per step, after every optimizer stepped
        run.step_done(**critic_stats, **stats)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    run = Run(args, "cgan", argv)  # on --resume, args become the checkpoint's
    args = run.args
    with run.main_first():  # torchrun: one download, not one per process
        dataset = make_dataset(args, IMG_SIZE)
    args.channels = dataset.source.channels  # resolved, so sample.py and --resume rebuild the same nets
    args.num_classes = dataset.source.classes

    G = Generator(args.z_dim, args.channels, args.ngf, args.num_classes, args.embed_dim).to(run.device)
    C = Critic(args.channels, args.ndf, args.num_classes, IMG_SIZE).to(run.device)
    G.apply(init_weights)
    C.apply(init_weights)
    betas = (args.beta1, args.beta2)  # β1 = 0: the penalty makes the critic's landscape change fast
    opt_G = torch.optim.Adam(G.parameters(), lr=args.lr, betas=betas, fused=run.fused)
    opt_C = torch.optim.Adam(C.parameters(), lr=args.lr, betas=betas, fused=run.fused)
    run.track(nets={"G": G, "C": C}, optimizers={"G": opt_G, "C": opt_C},
              compile_nets=["G"])  # not C: the gradient penalty differentiates through C twice
    run.summary(dataset.source.name, len(dataset))
    run.restore()
    if args.eval_every:  # FID (or KID) every N epochs, best.pt kept (evaluation/scoring.py)
        from evaluation.scoring import SampleEvaluation  # the scoring modules load only when asked for
        run.evaluate_with(SampleEvaluation(args, run.device, [G], lambda labels, g: draw(G, vars(args), labels, g),
                                           dataset.source, conditional=True))

    run.make_loader(dataset, args.batch_size)
    # one row per class, the same noise every epoch: progress and conditioning are comparable
    z, labels = class_rows(args.num_classes, 8, args.z_dim, torch.Generator().manual_seed(args.seed))
    fixed = (z.to(run.device), labels.to(run.device))
    for epoch in run.epochs():
        train_one_epoch(G, C, opt_G, opt_C, run, args)
        save_samples(G, fixed, run, f"epoch_{epoch + 1:03d}")


if __name__ == "__main__":
    main_guard(main)
