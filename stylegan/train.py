"""Train StyleGAN (Karras et al. 2019, https://arxiv.org/abs/1812.04948): G and D grow from 8×8 to --max_resolution.

    python stylegan/train.py --data_root data/ffhq --max_resolution 1024
    python stylegan/train.py --data_root data/anime --max_resolution 64 --kimg_per_phase 200
    python stylegan/train.py --resume         # continues mid-phase: resolution, alpha, images shown, data order

Defaults are the official FFHQ configuration (NVlabs/stylegan train.py, 8 GPUs: --batch_size below is the global
batch): non-saturating logistic loss with R1 γ = 10, style mixing 0.9, Adam β = (0, 0.99) ε 1e-8 with lr 0.001 up
to 64², 0.0015 at 128², 0.002 at 256², 0.003 at 512² and 1024²; batch 256 at 8², 128 at 16², 64 at 32², 32 from
64²; 600k images per fade-in and per stable phase, starting at 8×8; mirrored images; G's EMA with a half-life of
10k images draws the samples; w̄ tracked with β 0.995 for the truncation trick (sample.py).

One "epoch" of the shared run loop is one phase here (8×8; then 16×16 fade-in, 16×16 stable; ...), so checkpoints
are written at each phase's end, on Ctrl-C and on --max_steps, and --resume continues exactly.
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
from utils import (critic_loss, d_loss_r1, ema_beta, ema_update, g_logistic, g_wgan, make_ema,
                   mixing_crossover, parse_table, phases, r1_penalty, real_at, save_samples, track_w_avg, value_at)


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--max_resolution", type=positive_int, default=1024, help="final size, a power of two >= 8")
    p.add_argument("--start_resolution", type=positive_int, default=8,
                   help="the first phase's resolution; official: 8 (ProGAN started at 4)")
    p.add_argument("--kimg_per_phase", type=positive_float, default=600,
                   help="thousands of real images shown per fade-in phase and per stable phase; official: 600")
    p.add_argument("--batch_sizes", default="4:512,8:256,16:128,32:64,64:32",
                   help="resolution:global batch pairs (official FFHQ, 8 GPUs); a missing resolution takes the next "
                        "smaller one's")
    p.add_argument("--lrs", default="4:0.001,128:0.0015,256:0.002,512:0.003",
                   help="resolution:learning rate pairs for G and D (official FFHQ), looked up as --batch_sizes")
    p.add_argument("--loss", default="logistic", choices=["logistic", "wgan-gp"],
                   help="logistic: non-saturating + R1 (FFHQ); wgan-gp: ProGAN's, lr capped at 0.002 (CelebA-HQ)")
    p.add_argument("--r1_gamma", type=positive_float, default=10.0, help="γ of the R1 penalty (logistic); FFHQ: 10")
    p.add_argument("--lambda_gp", type=positive_float, default=10.0, help="gradient penalty weight (wgan-gp): 10")
    p.add_argument("--drift", type=float, default=0.001, help="ε_drift on E[D(x)²] (wgan-gp): 0.001")
    p.add_argument("--style_mixing", type=unit_float, default=0.9,
                   help="probability that a minibatch mixes two latents; paper: 0.9 (0 = off)")
    p.add_argument("--beta1", type=unit_float, default=0.0, help="Adam β1; official: 0")
    p.add_argument("--beta2", type=unit_float, default=0.99, help="Adam β2; official: 0.99")
    p.add_argument("--adam_eps", type=positive_float, default=1e-8, help="Adam ε; official: 1e-8")
    p.add_argument("--ema_kimg", type=positive_float, default=10.0,
                   help="half-life of G's EMA in thousands of images (official G_smoothing_kimg: 10)")
    p.add_argument("--w_avg_beta", type=unit_float, default=0.995, help="decay of w̄ (official dlatent_avg_beta)")
    p.add_argument("--mirror", default="on", choices=["on", "off"], help="random horizontal flips (FFHQ: on)")
    p.add_argument("--z_dim", type=positive_int, default=512, help="latent z and intermediate w; paper: 512")
    p.add_argument("--mapping_layers", type=positive_int, default=8, help="mapping network depth; paper: 8")
    p.add_argument("--fmap_base", type=positive_int, default=8192, help="widths nf(r) = min(2·fmap_base / r, fmap_max)")
    p.add_argument("--fmap_max", type=positive_int, default=512, help="paper: 512")
    p.add_argument("--group_size", type=positive_int, default=4, help="minibatch stddev group; paper: 4")
    add_data_args(p, "folder = any images under --data_root (FFHQ, CelebA-HQ, ...)")
    p.set_defaults(dataset="folder")
    add_run_args(p, HERE)
    add_eval_args(p)
    return p.parse_args(argv)


def check_args(args):
    r, s = args.max_resolution, args.start_resolution
    if r < 8 or r & (r - 1):
        raise UserError(f"--max_resolution {r}: StyleGAN doubles from 4×4, so it needs a power of two >= 8")
    if s < 4 or s & (s - 1) or s > r:
        raise UserError(f"--start_resolution {s}: pass a power of two from 4 up to --max_resolution {r}")
    try:
        parse_table(args.batch_sizes, int, "--batch_sizes")
        parse_table(args.lrs, float, "--lrs")
    except ValueError as e:
        raise UserError(str(e)) from None


def train_one_epoch(G, D, G_ema, opt_G, opt_D, run, args, level, fading, max_level, beta):
    scaler = run.scaler  # --amp fp16 scales the losses against underflow; otherwise its calls pass straight through
    layers_in_use = 2 * level + 2  # the synthesis layers up to this resolution
    noise = dict(noise_fn=lambda *shape, **_: run.randn(*shape))  # fresh noise inputs: torchrun-aware draws

    def latents(batch):  # z, and for a style-mixed minibatch a second z and the crossover layer
        z, z2 = run.randn(batch, args.z_dim), run.randn(batch, args.z_dim)  # (B, 512) each
        return dict(z=z, z2=z2, mix_at=mixing_crossover(layers_in_use, args.style_mixing))

    for real, _ in run.batches():
        alpha = run.batch_in_epoch / run.n_batches if fading else 1.0  # 0 → 1 over a fade-in phase
        real = real_at(real.to(run.device, non_blocking=True), level, alpha, max_level)  # (B, C, R, R)
        if args.mirror == "on":  # each image flipped left-right with probability ½
            real = torch.where(run.rand(real.shape[0], 1, 1, 1) < 0.5, real.flip(3), real)

        # (1) Update D: logistic: minimize softplus(D(G(z))) + softplus(−D(x)) + γ/2·‖∇D(x)‖²
        #               wgan-gp: maximize E[D(x)] − E[D(G(z))] − λ·GP − ε_drift·E[D(x)²]
        with run.autocast():
            with torch.no_grad():  # this step trains D only; G's step draws its own latents
                lat = latents(real.shape[0])
                ws, w = G.styles(lat["z"], lat["z2"], lat["mix_at"])  # (B, layers, 512), (B, 512)
                fake = G.synthesis(ws, level, alpha, **noise)  # (B, C, R, R)
            fake_scores = D(fake, level, alpha).float()
        track_w_avg(G, w, args.w_avg_beta)  # the official code updates w̄ wherever G runs in training
        if args.loss == "logistic":
            real_scores, penalty = r1_penalty(D, real, level, alpha)  # eager, fp32
            loss_D = d_loss_r1(real_scores, fake_scores, penalty, args.r1_gamma)
        else:
            with run.autocast():
                real_scores = D(real, level, alpha).float()
            penalty = gradient_penalty(D, real, fake, level, alpha)  # eager, fp32
            loss_D = critic_loss(real_scores, fake_scores, penalty, args.lambda_gp, args.drift)
        opt_D.zero_grad(set_to_none=True)
        scaler.scale(loss_D).backward()
        average_gradients(opt_D)  # torchrun: the mean of every process's gradients (nothing in one process)
        scaler.step(opt_D)

        # (2) Update G: logistic: minimize softplus(−D(G(z))); wgan-gp: maximize E[D(G(z))]; fresh latents
        lat = latents(real.shape[0])
        with run.autocast():
            ws, w = G.styles(lat["z"], lat["z2"], lat["mix_at"])
            fake_scores_G = D(G.synthesis(ws, level, alpha, **noise), level, alpha).float()
            loss_G = g_logistic(fake_scores_G) if args.loss == "logistic" else g_wgan(fake_scores_G)
        opt_G.zero_grad(set_to_none=True)
        scaler.scale(loss_G).backward()
        average_gradients(opt_G)
        scaler.step(opt_G)
        track_w_avg(G, w, args.w_avg_beta)
        ema_update(G_ema, G, beta)

        scaler.update()  # once per step, after every optimizer stepped
        run.step_done(loss_D=loss_D, loss_G=loss_G, **{"R1" if args.loss == "logistic" else "GP": penalty},
                      D_real=real_scores.mean(), D_fake=fake_scores.mean(), alpha=alpha, resolution=real.shape[-1])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    check_args(args)
    run = Run(args, "stylegan", argv)  # on --resume, args become the checkpoint's
    args = run.args
    with run.main_first():  # torchrun: one download, not one per process
        dataset = make_dataset(args)
    args.channels = dataset.source.channels  # resolved, so sample.py and --resume rebuild the same nets

    widths = dict(fmap_base=args.fmap_base, fmap_max=args.fmap_max)
    G = Generator(args.max_resolution, args.z_dim, args.z_dim, args.channels, mapping_layers=args.mapping_layers,
                  **widths).to(run.device)
    D = Discriminator(args.max_resolution, args.channels, group_size=args.group_size, **widths).to(run.device)
    G_ema = make_ema(G)
    adam = dict(lr=1e-3, betas=(args.beta1, args.beta2), eps=args.adam_eps, fused=run.fused)  # lr: per phase
    opt_G, opt_D = torch.optim.Adam(G.parameters(), **adam), torch.optim.Adam(D.parameters(), **adam)
    run.track(nets={"G": G, "D": D, "G_ema": G_ema}, optimizers={"G": opt_G, "D": opt_D},
              compile_nets=[])  # the level/alpha arguments change per phase: compiling would recompile each
    run.summary(dataset.source.name, len(dataset))
    run.restore()

    max_level, start_level = G.max_level, args.start_resolution.bit_length() - 3
    schedule = phases(max_level, start_level)
    args.epochs = len(schedule)  # one "epoch" of the run loop per phase
    batch_sizes, lrs = parse_table(args.batch_sizes, int, "--batch_sizes"), parse_table(args.lrs, float, "--lrs")
    for level, _ in schedule:  # torchrun: each phase's batch must split evenly over the processes; said at start
        resolution = 4 * 2 ** level
        local_batch(value_at(resolution, batch_sizes), f"the batch at {resolution}×{resolution} (--batch_sizes)")
    if args.eval_every:  # FID (or KID) after every N phases, at the resolution just finished (no truncation)
        from evaluation.scoring import SampleEvaluation  # the scoring modules load only when asked for
        run.evaluate_with(SampleEvaluation(args, run.device, [G_ema],
                                           lambda n, g: draw(G_ema, vars(args), n, g, schedule[run.epoch][0]),
                                           dataset.source))
    fixed_z = run.fixed_noise(64, args.z_dim)
    for epoch in run.epochs():
        level, fading = schedule[epoch]
        resolution = 4 * 2 ** level
        batch = value_at(resolution, batch_sizes)
        lr = value_at(resolution, lrs)
        run.set_lr(min(lr, 0.002) if args.loss == "wgan-gp" else lr)  # the official WGAN-GP config caps it
        if run.batch_in_epoch == 0 and epoch > 0:  # fresh Adam moments whenever floor(lod) or ceil(lod) changes
            opt_G.state.clear()  # (the official reset_opt_for_new_lod): every fade-in and every stable phase
            opt_D.state.clear()
        run.make_loader(Repeated(dataset, round(args.kimg_per_phase * 1000)), batch)
        train_one_epoch(G, D, G_ema, opt_G, opt_D, run, args, level, fading, max_level, ema_beta(batch, args.ema_kimg))
        alpha = run.batch_in_epoch / run.n_batches if fading else 1.0
        save_samples(G_ema, fixed_z, level, alpha, run, f"phase_{epoch + 1:02d}_{resolution}x{resolution}"
                     f"_{'fade' if fading else 'stable'}")


if __name__ == "__main__":
    main_guard(main)
