"""Train the simple MLP GAN (Goodfellow et al. 2014, https://arxiv.org/abs/1406.2661) on 28×28 images.

    python simple_gan/train.py                             # MNIST (downloaded, or the offline fallback)
    python simple_gan/train.py --dataset folder --data_root my_images --channels 3
    python simple_gan/train.py --resume                    # continue from simple_gan/checkpoints/last.pt

Defaults are the seed's: Adam lr 3e-4, batch 32, z of 64 dims, 50 epochs.
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))  # the repo root, for common/ (this folder stays first for model.py)

import torch

from common.distributed import average_gradients
from common.flags import ArgumentParser, add_data_args, add_eval_args, add_run_args, positive_float, positive_int
from common.run import Run, main_guard
from dataset import make_dataset
from model import Discriminator, Generator
from sample import draw
from utils import d_loss, g_loss, save_samples


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=positive_int, default=50, help="passes over the data")
    p.add_argument("--batch_size", type=positive_int, default=32, help="the seed's: 32")
    p.add_argument("--lr", type=positive_float, default=3e-4, help="Adam learning rate (betas: PyTorch defaults)")
    p.add_argument("--z_dim", type=positive_int, default=64, help="noise dimensions")
    p.add_argument("--img_size", type=positive_int, default=28, help="images are resized to img_size²")
    add_data_args(p)
    add_run_args(p, HERE)
    add_eval_args(p)
    return p.parse_args(argv)


def train_one_epoch(G, D, opt_G, opt_D, run, args):
    scaler = run.scaler  # --amp fp16 scales the losses against underflow; otherwise its calls pass straight through
    for real, _ in run.batches():
        real = real.to(run.device, non_blocking=True)  # (B, 1, 28, 28) in [-1, 1]
        z = run.randn(real.shape[0], args.z_dim)  # (B, 64)

        # (1) Update D: maximize log D(x) + log(1 − D(G(z)))
        with run.autocast():
            fake = G(z)  # (B, 1, 28, 28)
            real_logits, fake_logits = D(real), D(fake.detach())  # detach: this step trains D only
            loss_D = d_loss(real_logits, fake_logits)
        opt_D.zero_grad(set_to_none=True)
        scaler.scale(loss_D).backward()
        average_gradients(opt_D)  # torchrun: the mean of every process's gradients (nothing in one process)
        scaler.step(opt_D)

        # (2) Update G: maximize log D(G(z))  (the non-saturating form, paper Section 3)
        with run.autocast():
            loss_G = g_loss(D(fake))
        opt_G.zero_grad(set_to_none=True)
        scaler.scale(loss_G).backward()
        average_gradients(opt_G)
        scaler.step(opt_G)

        scaler.update()  # once per step, after every optimizer stepped
        run.step_done(loss_D=loss_D, loss_G=loss_G,
                      D_x=torch.sigmoid(real_logits).mean(), D_G_z=torch.sigmoid(fake_logits).mean())


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    run = Run(args, "simple_gan", argv)  # on --resume, args become the checkpoint's
    args = run.args
    with run.main_first():  # torchrun: one download, not one per process
        dataset = make_dataset(args, args.img_size)
    args.channels = dataset.source.channels  # resolved, so sample.py and --resume rebuild the same nets

    G = Generator(args.z_dim, args.channels, args.img_size).to(run.device)
    D = Discriminator(args.channels, args.img_size).to(run.device)
    opt_G = torch.optim.Adam(G.parameters(), lr=args.lr, fused=run.fused)
    opt_D = torch.optim.Adam(D.parameters(), lr=args.lr, fused=run.fused)
    run.track(nets={"G": G, "D": D}, optimizers={"G": opt_G, "D": opt_D})
    run.summary(dataset.source.name, len(dataset))
    run.restore()
    if args.eval_every:  # FID (or KID) every N epochs, best.pt kept (evaluation/scoring.py)
        from evaluation.scoring import SampleEvaluation  # the scoring modules load only when asked for
        run.evaluate_with(SampleEvaluation(args, run.device, [G], lambda n, g: draw(G, vars(args), n, g),
                                           dataset.source))

    run.make_loader(dataset, args.batch_size)
    fixed_z = run.fixed_noise(64, args.z_dim)  # the same 64 points every epoch: progress is comparable
    for epoch in run.epochs():
        train_one_epoch(G, D, opt_G, opt_D, run, args)
        save_samples(G, fixed_z, run, f"epoch_{epoch + 1:03d}")


if __name__ == "__main__":
    main_guard(main)
