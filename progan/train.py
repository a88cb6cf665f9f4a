"""Train ProGAN (Karras et al. 2018, https://arxiv.org/abs/1710.10196): G and D grow from 4×4 to --max_resolution.

    python progan/train.py --dataset folder --data_root data/celeba_hq --max_resolution 1024
    python progan/train.py --dataset folder --data_root data/anime --max_resolution 64 --kimg_per_phase 200
    python progan/train.py --resume           # continues mid-phase: resolution, alpha, images shown, data order

Defaults are the paper's (Appendix A.1): WGAN-GP loss, λ 10, drift 0.001, n_critic 1, Adam lr 1e-3
β = (0, 0.99) ε 1e-8, 800k images per fade-in and 800k per stable phase, batch 16 up to 128² then 14, 6, 3,
generator EMA 0.999 for the samples.

One "epoch" of the shared run loop is one phase here (4×4; then 8×8 fade-in, 8×8 stable; 16×16 fade-in, ...),
so checkpoints are written at each phase's end, on Ctrl-C and on --max_steps, and --resume continues exactly.
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))  # the repo root, for common/ (this folder stays first for model.py)

import torch

from common.distributed import average_gradients, local_batch
from common.errors import UserError
from common.flags import (ArgumentParser, add_data_args, add_eval_args, add_run_args, positive_float, positive_int,
                          unit_float)
from common.gradient_penalty import gradient_penalty
from common.run import Run, main_guard
from dataset import Repeated, make_dataset
from model import Discriminator, Generator
from sample import draw
from utils import (batch_size_at, critic_loss, ema_update, generator_loss, make_ema, parse_batch_sizes,
                   phases, real_at, save_samples)


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--max_resolution", type=positive_int, default=1024, help="final size, a power of two >= 8")
    p.add_argument("--kimg_per_phase", type=positive_float, default=800,
                   help="thousands of real images shown per fade-in phase and per stable phase; paper: 800")
    p.add_argument("--batch_sizes", default="4:16,8:16,16:16,32:16,64:16,128:16,256:14,512:6,1024:3",
                   help="resolution:batch pairs (paper, A.1); a missing resolution takes the next smaller one's")
    p.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate; paper: 0.001")
    p.add_argument("--beta1", type=unit_float, default=0.0, help="Adam β1; paper: 0")
    p.add_argument("--beta2", type=unit_float, default=0.99, help="Adam β2; paper: 0.99")
    p.add_argument("--adam_eps", type=positive_float, default=1e-8, help="Adam ε; paper: 1e-8")
    p.add_argument("--lambda_gp", type=positive_float, default=10.0, help="gradient penalty weight; paper: 10")
    p.add_argument("--drift", type=float, default=0.001, help="ε_drift on E[D(x)²]; paper: 0.001")
    p.add_argument("--ema", type=unit_float, default=0.999, help="EMA decay of G's weights for samples; paper: 0.999")
    p.add_argument("--latent_dim", type=positive_int, default=512, help="paper: 512")
    p.add_argument("--fmap_base", type=positive_int, default=8192, help="widths nf(r) = min(2·fmap_base / r, fmap_max)")
    p.add_argument("--fmap_max", type=positive_int, default=512, help="paper: 512")
    p.add_argument("--group_size", type=positive_int, default=4, help="minibatch stddev group; paper: 4")
    add_data_args(p, "folder = any images under --data_root (CelebA-HQ, FFHQ, ...)")
    p.set_defaults(dataset="folder")
    add_run_args(p, HERE)
    add_eval_args(p)
    return p.parse_args(argv)


def check_args(args):
    r = args.max_resolution
    if r < 8 or r & (r - 1):
        raise UserError(f"--max_resolution {r}: ProGAN doubles from 4×4, so it needs a power of two >= 8")
    try:
        parse_batch_sizes(args.batch_sizes)
    except ValueError as e:
        raise UserError(str(e)) from None


def train_one_epoch(G, D, G_ema, opt_G, opt_D, run, args, level, fading, max_level):
    scaler = run.scaler  # --amp fp16 scales the losses against underflow; otherwise its calls pass straight through
    for real, _ in run.batches():
        alpha = run.batch_in_epoch / run.n_batches if fading else 1.0  # 0 → 1 over a fade-in phase
        real = real_at(real.to(run.device, non_blocking=True), level, alpha, max_level)  # (B, C, R, R)
        z = run.randn(real.shape[0], args.latent_dim)  # (B, 512)

        # (1) Update D: maximize E[D(x)] − E[D(G(z))] − λ·GP − ε_drift·E[D(x)²]
        with run.autocast():
            with torch.no_grad():  # this step trains D only; G's step draws its own fakes
                fake = G(z, level, alpha)  # (B, C, R, R)
            real_scores, fake_scores = D(real, level, alpha), D(fake, level, alpha)
        penalty = gradient_penalty(D, real, fake, level, alpha)  # eager and fp32 inside, whatever --amp says
        loss_D = critic_loss(real_scores.float(), fake_scores.float(), penalty, args.lambda_gp, args.drift)
        opt_D.zero_grad(set_to_none=True)
        scaler.scale(loss_D).backward()
        average_gradients(opt_D)  # torchrun: the mean of every process's gradients (nothing in one process)
        scaler.step(opt_D)

        # (2) Update G: maximize E[D(G(z))] on fresh latents (n_critic = 1; the official code draws a new batch of
        # z for the G loss), then the EMA copy follows
        z = run.randn(real.shape[0], args.latent_dim)  # (B, 512)
        with run.autocast():
            loss_G = generator_loss(D(G(z, level, alpha), level, alpha).float())
        opt_G.zero_grad(set_to_none=True)
        scaler.scale(loss_G).backward()
        average_gradients(opt_G)
        scaler.step(opt_G)
        ema_update(G_ema, G, args.ema)

        scaler.update()  # once per step, after every optimizer stepped
        run.step_done(loss_D=loss_D, loss_G=loss_G, W_estimate=real_scores.mean() - fake_scores.mean(),
                      GP=penalty, alpha=alpha, resolution=real.shape[-1])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    check_args(args)
    run = Run(args, "progan", argv)  # on --resume, args become the checkpoint's
    args = run.args
    with run.main_first():  # torchrun: one download, not one per process
        dataset = make_dataset(args)
    args.channels = dataset.source.channels  # resolved, so sample.py and --resume rebuild the same nets

    widths = dict(fmap_base=args.fmap_base, fmap_max=args.fmap_max)
    G = Generator(args.max_resolution, args.latent_dim, args.channels, **widths).to(run.device)
    D = Discriminator(args.max_resolution, args.channels, group_size=args.group_size, **widths).to(run.device)
    G_ema = make_ema(G)
    adam = dict(lr=args.lr, betas=(args.beta1, args.beta2), eps=args.adam_eps, fused=run.fused)
    opt_G, opt_D = torch.optim.Adam(G.parameters(), **adam), torch.optim.Adam(D.parameters(), **adam)
    run.track(nets={"G": G, "D": D, "G_ema": G_ema}, optimizers={"G": opt_G, "D": opt_D},
              compile_nets=[])  # the level/alpha arguments change per phase: compiling would recompile each
    run.summary(dataset.source.name, len(dataset))
    run.restore()
    if args.eval_every:  # FID (or KID) after every N phases, at the resolution just finished
        from evaluation.scoring import SampleEvaluation  # the scoring modules load only when asked for
        run.evaluate_with(SampleEvaluation(args, run.device, [G_ema], lambda n, g: draw(G_ema, vars(args), n, g, level),
                                           dataset.source))

    max_level = G.max_level
    schedule = phases(max_level)
    args.epochs = len(schedule)  # one "epoch" of the run loop per phase
    batch_sizes = parse_batch_sizes(args.batch_sizes)
    for level, _ in schedule:  # torchrun: each phase's batch must split evenly over the processes; said at start
        resolution = 4 * 2 ** level
        local_batch(batch_size_at(resolution, batch_sizes), f"the batch at {resolution}×{resolution} (--batch_sizes)")
    fixed_z = run.fixed_noise(64, args.latent_dim)
    for epoch in run.epochs():
        level, fading = schedule[epoch]
        resolution = 4 * 2 ** level
        batch = batch_size_at(resolution, batch_sizes)
        if run.batch_in_epoch == 0 and epoch > 0:  # fresh Adam moments whenever floor(lod) or ceil(lod) changes
            opt_G.state.clear()  # (the official train.py): at the start of every fade-in and every stable phase
            opt_D.state.clear()
        run.make_loader(Repeated(dataset, round(args.kimg_per_phase * 1000)), batch)
        train_one_epoch(G, D, G_ema, opt_G, opt_D, run, args, level, fading, max_level)
        alpha = run.batch_in_epoch / run.n_batches if fading else 1.0
        save_samples(G_ema, fixed_z, level, alpha, run, f"phase_{epoch + 1:02d}_{resolution}x{resolution}"
                     f"_{'fade' if fading else 'stable'}")


if __name__ == "__main__":
    main_guard(main)
