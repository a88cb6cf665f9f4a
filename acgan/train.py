"""Train AC-GAN (Odena et al. 2017, https://arxiv.org/abs/1610.09585) at 32×32.

    python acgan/train.py --data_root data/cifar10         # CIFAR-10 (cifar-10-batches-py/ or train/<class>/)
    python acgan/train.py --dataset mnist --data_root data/mnist
    python acgan/train.py --resume                         # continue from acgan/checkpoints/last.pt

Defaults are the paper's CIFAR-10 table: Adam lr 2e-4 β = (0.5, 0.999) for both nets, batch 100, z of 100 dims,
N(0, 0.02) init, 50,000 iterations (100 epochs of CIFAR-10's 50,000 images at batch 100).
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
from utils import class_rows, d_loss, g_loss, save_samples

IMG_SIZE = 32  # the paper's CIFAR-10 networks are built for 32×32


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=positive_int, default=100, help="passes over the data (paper: 50,000 "
                   "iterations of 100 CIFAR-10 images)")
    p.add_argument("--batch_size", type=positive_int, default=100, help="paper: 100")
    p.add_argument("--lr", type=positive_float, default=2e-4, help="Adam learning rate of both nets; paper: 2e-4")
    p.add_argument("--beta1", type=unit_float, default=0.5, help="Adam β1; paper: 0.5")
    p.add_argument("--beta2", type=unit_float, default=0.999, help="Adam β2; paper: 0.999")
    p.add_argument("--z_dim", type=positive_int, default=100, help="noise dimensions (+ the one-hot class); paper: 100")
    p.add_argument("--ngf", type=positive_int, default=48, help="G width: 8·ngf channels at 4×4 (paper: 384)")
    p.add_argument("--ndf", type=positive_int, default=16, help="D width: ndf channels in its first layer (paper: 16)")
    add_data_args(p, "folder = one sub-folder of images per class under --data_root")
    p.set_defaults(dataset="cifar10")
    add_run_args(p, HERE)
    add_eval_args(p)
    return p.parse_args(argv)


def train_one_epoch(G, D, opt_G, opt_D, run, args):
    scaler = run.scaler  # --amp fp16 scales the losses against underflow; otherwise its calls pass straight through
    for real, labels in run.batches():
        real = real.to(run.device, non_blocking=True)  # (B, C, 32, 32) in [-1, 1]
        labels = labels.to(run.device, non_blocking=True)  # (B,) the real images' classes
        z = run.randn(real.shape[0], args.z_dim)  # (B, 100)
        fake_labels = run.randint(args.num_classes, (real.shape[0],))  # c ~ p_c, uniform

        # (1) Update D: maximize L_S + L_C (the right source of real and fake images, the right class of both)
        with run.autocast():
            fake = G(z, fake_labels)  # (B, C, 32, 32)
            real_source, real_classes = D(real)
            fake_source, fake_classes = D(fake.detach())  # detach: this step trains D only
            loss_D, loss_D_class = d_loss(real_source.float(), fake_source.float(), real_classes.float(),
                                          fake_classes.float(), labels, fake_labels)
        opt_D.zero_grad(set_to_none=True)
        scaler.scale(loss_D).backward()
        average_gradients(opt_D)  # torchrun: the mean of every process's gradients (nothing in one process)
        scaler.step(opt_D)

        # (2) Update G: maximize L_C − L_S (its samples classified as the asked class, and taken for real)
        with run.autocast():
            source, classes = D(fake)
            loss_G = g_loss(source.float(), classes.float(), fake_labels)
        opt_G.zero_grad(set_to_none=True)
        scaler.scale(loss_G).backward()
        average_gradients(opt_G)
        scaler.step(opt_G)

        scaler.update()  # once per step, after every optimizer stepped
        run.step_done(loss_D=loss_D, loss_G=loss_G, loss_D_class=loss_D_class,
                      acc_real=(real_classes.argmax(1) == labels).float().mean(),
                      D_x=torch.sigmoid(real_source).mean(), D_G_z=torch.sigmoid(fake_source).mean())


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    run = Run(args, "acgan", argv)  # on --resume, args become the checkpoint's
    args = run.args
    with run.main_first():  # torchrun: one download, not one per process
        dataset = make_dataset(args, IMG_SIZE)
    args.channels = dataset.source.channels  # resolved, so sample.py and --resume rebuild the same nets
    args.num_classes = dataset.source.classes

    G = Generator(args.z_dim, args.num_classes, args.channels, args.ngf).to(run.device)
    D = Discriminator(args.num_classes, args.channels, args.ndf).to(run.device)
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
        run.evaluate_with(SampleEvaluation(args, run.device, [G], lambda labels, g: draw(G, vars(args), labels, g),
                                           dataset.source, conditional=True))

    run.make_loader(dataset, args.batch_size)
    # one row per class, the same noise every epoch: progress and conditioning are comparable
    z, labels = class_rows(args.num_classes, 8, args.z_dim, torch.Generator().manual_seed(args.seed))
    fixed = (z.to(run.device), labels.to(run.device))
    for epoch in run.epochs():
        train_one_epoch(G, D, opt_G, opt_D, run, args)
        save_samples(G, fixed, run, f"epoch_{epoch + 1:03d}")


if __name__ == "__main__":
    main_guard(main)
