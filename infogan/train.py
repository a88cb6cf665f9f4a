"""Train InfoGAN (Chen et al. 2016, https://arxiv.org/abs/1606.03657) on 28×28 MNIST.

    python infogan/train.py                                # MNIST (downloaded, or the offline fallback)
    python infogan/train.py --learn_sigma                  # Q learns the continuous codes' σ as well
    python infogan/train.py --resume                       # continue from infogan/checkpoints/last.pt

Defaults are the paper's MNIST configuration and its official code's (run_mnist_exp.py): Adam lr 2e-4 for D and Q,
1e-3 for G, β1 0.5, batch 128, λ = 1, 62 noise dims, one 10-way and two uniform continuous codes, σ fixed at 1;
11 epochs ≈ the official 5,000 updates (50 × 100) of 128 images.
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
from model import DiscriminatorQ, Generator
from sample import draw
from utils import (d_loss, figure_latents, g_loss, info_loss, mutual_information_bound, sample_latent,
                   save_samples)

IMG_SIZE = 28  # the paper's MNIST networks are built for 28×28


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=positive_int, default=11, help="passes over the data (official: 50 × 100 "
                   "updates of 128 images, about 11 passes)")
    p.add_argument("--batch_size", type=positive_int, default=128, help="official code: 128")
    p.add_argument("--lr_D", type=positive_float, default=2e-4, help="Adam lr of D and Q; paper: 2e-4")
    p.add_argument("--lr_G", type=positive_float, default=1e-3, help="Adam lr of G; paper: 1e-3")
    p.add_argument("--beta1", type=unit_float, default=0.5, help="Adam β1; official code: 0.5")
    p.add_argument("--beta2", type=unit_float, default=0.999, help="Adam β2 (TensorFlow's default)")
    p.add_argument("--lambda_info", type=positive_float, default=1.0, help="λ on the information term; paper: 1")
    p.add_argument("--noise_dim", type=positive_int, default=62, help="incompressible noise dims; paper: 62")
    p.add_argument("--n_cat", type=positive_int, default=10, help="values of the categorical code c1; paper: 10")
    p.add_argument("--n_cont", type=positive_int, default=2, help="continuous codes (c2, c3); paper: 2")
    p.add_argument("--learn_sigma", action="store_true",
                   help="Q predicts the continuous codes' σ too (the paper mentions both; the MNIST run fixes it)")
    add_data_args(p)
    add_run_args(p, HERE)
    add_eval_args(p)
    return p.parse_args(argv)


def train_one_epoch(G, DQ, opt_G, opt_D, run, args):
    scaler = run.scaler  # --amp fp16 scales the losses against underflow; otherwise its calls pass straight through
    cfg = vars(args)
    for real, _ in run.batches():
        real = real.to(run.device, non_blocking=True)  # (B, 1, 28, 28) in [-1, 1]
        latent, cat, cont = run.shard(*sample_latent(args.batch_size, cfg, run.device))  # (B, 74), (B,), (B, 2)

        # (1) Update D and Q: maximize log D(x) + log(1 − D(G(z, c))) + λ L_I(G, Q)  (Q reads the codes of G's
        # samples; D and Q share their layers and one optimizer, as the official code's d_net)
        with run.autocast():
            fake = G(latent)  # (B, 1, 28, 28)
            real_logits, _ = DQ(real)
            fake_logits, q = DQ(fake.detach())
            cat_nll, cont_nll = info_loss(tuple(t if t is None else t.float() for t in q), cat, cont)
            loss_D = d_loss(real_logits.float(), fake_logits.float()) + args.lambda_info * (cat_nll + cont_nll)
        opt_D.zero_grad(set_to_none=True)
        scaler.scale(loss_D).backward()
        average_gradients(opt_D)  # torchrun: the mean of every process's gradients (nothing in one process)
        scaler.step(opt_D)

        # (2) Update G: maximize log D(G(z, c)) + λ L_I(G, Q) on fresh latents (the official code samples z and c
        # again for its G step)
        latent, cat, cont = run.shard(*sample_latent(args.batch_size, cfg, run.device))
        with run.autocast():
            logits, q = DQ(G(latent))
            cat_nll_G, cont_nll_G = info_loss(tuple(t if t is None else t.float() for t in q), cat, cont)
            loss_G = g_loss(logits.float()) + args.lambda_info * (cat_nll_G + cont_nll_G)
        opt_G.zero_grad(set_to_none=True)
        scaler.scale(loss_G).backward()
        average_gradients(opt_G)
        scaler.step(opt_G)

        scaler.update()  # once per step, after every optimizer stepped
        run.step_done(loss_D=loss_D, loss_G=loss_G, loss_info_cat=cat_nll, loss_info_cont=cont_nll,
                      L_I=mutual_information_bound(cat_nll, cont_nll, cfg),
                      D_x=torch.sigmoid(real_logits).mean(), D_G_z=torch.sigmoid(fake_logits).mean())


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    run = Run(args, "infogan", argv)  # on --resume, args become the checkpoint's
    args = run.args
    with run.main_first():  # torchrun: one download, not one per process
        dataset = make_dataset(args, IMG_SIZE)
    args.channels = dataset.source.channels  # resolved, so sample.py and --resume rebuild the same nets

    G = Generator(args.noise_dim, args.n_cat, args.n_cont, args.channels).to(run.device)
    DQ = DiscriminatorQ(args.n_cat, args.n_cont, args.channels, args.learn_sigma).to(run.device)
    betas = (args.beta1, args.beta2)
    opt_G = torch.optim.Adam(G.parameters(), lr=args.lr_G, betas=betas, fused=run.fused)
    opt_D = torch.optim.Adam(DQ.parameters(), lr=args.lr_D, betas=betas, fused=run.fused)
    run.track(nets={"G": G, "DQ": DQ}, optimizers={"G": opt_G, "DQ": opt_D})
    run.summary(dataset.source.name, len(dataset))
    run.restore()
    if args.eval_every:  # FID (or KID) every N epochs, best.pt kept (evaluation/scoring.py)
        from evaluation.scoring import SampleEvaluation  # the scoring modules load only when asked for
        run.evaluate_with(SampleEvaluation(args, run.device, [G], lambda n, g: draw(G, vars(args), n, g),
                                           dataset.source))

    run.make_loader(dataset, args.batch_size)
    fixed = figure_latents(vars(args), 10, 0, run.device, args.seed)  # Figure 2: rows c1, columns c2 in [−2, 2]
    for epoch in run.epochs():
        train_one_epoch(G, DQ, opt_G, opt_D, run, args)
        save_samples(G, fixed, 10, run, f"epoch_{epoch + 1:03d}")


if __name__ == "__main__":
    main_guard(main)
