"""Train WGAN (Arjovsky et al. 2017, https://arxiv.org/abs/1701.07875) at 64×64 with weight clipping.

    python wgan/train.py --epochs 5                        # MNIST (downloaded, or the offline fallback)
    python wgan/train.py --dataset celeba --data_root data
    python wgan/train.py --resume                          # continue from wgan/checkpoints/last.pt

Defaults are the paper's Algorithm 1: RMSprop lr 5e-5, clipping c = 0.01, batch m = 64, n_critic = 5.
Each batch is one critic step; G steps once every n_critic batches.
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
from model import Critic, Generator, init_weights
from sample import draw
from utils import clip_weights, critic_loss, generator_loss, save_samples

IMG_SIZE = 64  # the DCGAN resolution the paper's nets are built for


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=positive_int, default=5, help="passes of the critic over the data")
    p.add_argument("--batch_size", type=positive_int, default=64, help="paper: m = 64")
    p.add_argument("--lr", type=positive_float, default=5e-5, help="RMSprop learning rate; paper: α = 5e-5")
    p.add_argument("--n_critic", type=positive_int, default=5, help="critic steps per G step; paper: 5")
    p.add_argument("--clip", type=positive_float, default=0.01, help="weight clipping bound c; paper: 0.01")
    p.add_argument("--z_dim", type=positive_int, default=100, help="noise dimensions")
    p.add_argument("--ngf", type=positive_int, default=128, help="G width: 8·ngf channels at 4×4")
    p.add_argument("--ndf", type=positive_int, default=64, help="critic width: ndf channels at 32×32")
    add_data_args(p)
    add_run_args(p, HERE)
    add_eval_args(p)
    # channels_last (NHWC nets) is the default in this folder alone, the other folders keep NCHW; the reason and its
    # command are in docs/speed.md
    p.set_defaults(fast="channels_last")
    return p.parse_args(argv)


def train_one_epoch(G, C, opt_G, opt_C, run, args):
    scaler = run.scaler  # --amp fp16 scales the losses against underflow; otherwise its calls pass straight through
    stats = {}
    for real, _ in run.batches():
        real = real.to(run.device, non_blocking=True)  # (B, C, 64, 64) in [-1, 1]
        z = run.randn(real.shape[0], args.z_dim, 1, 1)  # (B, 100, 1, 1)

        # (1) Update the critic: maximize E[C(x)] − E[C(G(z))], then clip its weights (Algorithm 1, lines 2-7)
        with run.autocast():
            with torch.no_grad():
                fake = G(z)  # (B, C, 64, 64); no graph: this step trains the critic only
            loss_C = critic_loss(C(real), C(fake))
        opt_C.zero_grad(set_to_none=True)
        scaler.scale(loss_C).backward()
        average_gradients(opt_C)  # torchrun: the mean of every process's gradients (nothing in one process)
        scaler.step(opt_C)
        clip_weights(C, args.clip)

        # (2) Every n_critic critic steps, update G: maximize E[C(G(z))]  (Algorithm 1, lines 9-10)
        if (run.step + 1) % args.n_critic == 0:
            z = run.randn(real.shape[0], args.z_dim, 1, 1)
            with run.autocast():
                stats["loss_G"] = generator_loss(C(G(z)))
            opt_G.zero_grad(set_to_none=True)
            scaler.scale(stats["loss_G"]).backward()
            average_gradients(opt_G)
            scaler.step(opt_G)

        scaler.update()  # once per step, after every optimizer stepped
        run.step_done(loss_C=loss_C, W_estimate=-loss_C, **stats)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    run = Run(args, "wgan", argv)  # on --resume, args become the checkpoint's
    args = run.args
    with run.main_first():  # torchrun: one download, not one per process
        dataset = make_dataset(args, IMG_SIZE)
    args.channels = dataset.source.channels  # resolved, so sample.py and --resume rebuild the same nets

    G = Generator(args.z_dim, args.channels, args.ngf).to(run.device)
    C = Critic(args.channels, args.ndf).to(run.device)
    G.apply(init_weights)
    C.apply(init_weights)
    # RMSprop, not Adam: the paper saw Adam's momentum destabilise the critic (Section 3)
    opt_G = torch.optim.RMSprop(G.parameters(), lr=args.lr)
    opt_C = torch.optim.RMSprop(C.parameters(), lr=args.lr)
    run.track(nets={"G": G, "C": C}, optimizers={"G": opt_G, "C": opt_C})
    run.summary(dataset.source.name, len(dataset))
    run.restore()
    if args.eval_every:  # FID (or KID) every N epochs, best.pt kept (evaluation/scoring.py)
        from evaluation.scoring import SampleEvaluation  # the scoring modules load only when asked for
        run.evaluate_with(SampleEvaluation(args, run.device, [G], lambda n, g: draw(G, vars(args), n, g),
                                           dataset.source))

    run.make_loader(dataset, args.batch_size)
    fixed_z = run.fixed_noise(64, args.z_dim, 1, 1)  # the same 64 points every epoch: progress is comparable
    for epoch in run.epochs():
        train_one_epoch(G, C, opt_G, opt_C, run, args)
        save_samples(G, fixed_z, run, f"epoch_{epoch + 1:03d}")


if __name__ == "__main__":
    main_guard(main)
