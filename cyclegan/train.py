"""Train CycleGAN (Zhu et al. 2017, https://arxiv.org/abs/1703.10593) on two unpaired image sets X (A) and Y (B).

    python cyclegan/train.py                                  # horse2zebra, downloaded to data/
    python cyclegan/train.py --dataset monet2photo
    python cyclegan/train.py --dataset folder --data_root my_sets   # my_sets/trainA, trainB (testA, testB)
    python cyclegan/train.py --resume                         # continue from cyclegan/checkpoints/last.pt

Defaults are the paper's (Section 4, Appendix 7): least-squares GAN loss, λ_cyc = 10, identity loss 0.5·λ,
a pool of 50 past fakes for the discriminators, Adam lr 2e-4 β = (0.5, 0.999), batch 1, 100 epochs at constant
lr then 100 of linear decay to 0, resize 286 → random crop 256 and mirroring.

Names, paper → code (official code in brackets): G: X → Y (G_A), F: Y → X (G_B), D_Y judges y vs G(x) (D_A),
D_X judges x vs F(y) (D_B).
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))  # the repo root, for common/ (this folder stays first for model.py)

import torch

from common.distributed import average_gradients
from common.errors import UserError
from common.flags import (ArgumentParser, add_eval_args, add_run_args, non_negative_int, positive_float, positive_int,
                          unit_float)
from common.run import Run, main_guard
from dataset import DATASETS, make_datasets
from model import PatchDiscriminator, ResnetGenerator, default_blocks, init_weights
from utils import (ImagePool, cycle_loss, d_loss, evaluate, g_adv_loss, identity_loss, lr_factor,
                   save_samples, test_translations)


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=positive_int, default=200, help="total epochs; paper: 200")
    p.add_argument("--decay_epochs", type=non_negative_int, default=100,
                   help="the last N epochs decay the lr linearly to 0; paper: 100 (+ 100 constant)")
    p.add_argument("--batch_size", type=positive_int, default=1, help="paper: 1")
    p.add_argument("--lr", type=positive_float, default=2e-4, help="Adam learning rate; paper: 2e-4")
    p.add_argument("--beta1", type=unit_float, default=0.5, help="Adam β1; paper: 0.5")
    p.add_argument("--beta2", type=unit_float, default=0.999, help="Adam β2; paper: 0.999")
    p.add_argument("--lambda_cyc", type=positive_float, default=10.0, help="λ of the cycle loss; paper: 10")
    p.add_argument("--lambda_id", type=float, default=0.5,
                   help="identity loss weight as a fraction of λ_cyc; paper: 0.5 (0 turns it off)")
    p.add_argument("--pool_size", type=non_negative_int, default=50, help="past fakes kept for D; paper: 50")
    p.add_argument("--ngf", type=positive_int, default=64, help="G width: channels of the first conv")
    p.add_argument("--ndf", type=positive_int, default=64, help="D width: channels of the first conv")
    p.add_argument("--n_blocks", type=positive_int, default=None,
                   help="residual blocks in G (default: 9 for crop_size >= 256, else 6, as the paper)")
    p.add_argument("--load_size", type=positive_int, default=286, help="resize to this before the random crop")
    p.add_argument("--crop_size", type=positive_int, default=256, help="training crop and test size; multiple of 4")
    p.add_argument("--dataset", default="horse2zebra", choices=DATASETS,
                   help="a paper dataset under <data_root>/<name>/ (downloaded if missing), or folder = "
                        "--data_root holds trainA/ trainB/ (and testA/ testB/)")
    add_run_args(p, HERE, cuda_graphs=True)
    add_eval_args(p)
    return p.parse_args(argv)


def check_args(args):
    if args.crop_size % 4 or args.crop_size < 16:
        raise UserError(f"--crop_size {args.crop_size}: G halves the image twice and doubles it twice, so it needs "
                        "a multiple of 4, at least 16 (paper: 256)")
    if args.load_size < args.crop_size:
        raise UserError(f"--load_size {args.load_size} is smaller than --crop_size {args.crop_size}; use "
                        "--load_size >= --crop_size (paper: 286 and 256)")
    if args.decay_epochs > args.epochs:
        raise UserError(f"--decay_epochs {args.decay_epochs} is more than --epochs {args.epochs} (the total); "
                        "paper: --epochs 200 --decay_epochs 100")
    if args.lambda_id < 0:
        raise UserError(f"--lambda_id {args.lambda_id} is negative; use 0 (off) or the paper's 0.5")
    args.n_blocks = args.n_blocks or default_blocks(args.crop_size)


def train_one_epoch(nets, opt_G, opt_D, pools, run, args):
    scaler = run.scaler  # --amp fp16 scales the losses against underflow; otherwise its calls pass straight through
    G, F, D_X, D_Y = nets["G"], nets["F"], nets["D_X"], nets["D_Y"]

    def g_step(x, y):  # x: (B, 3, 256, 256) from X, y: (B, 3, 256, 256) from Y, in [-1, 1]
        # (1) Update G and F: fool D_Y and D_X (least squares), F(G(x)) ≈ x and G(F(y)) ≈ y, G(y) ≈ y, F(x) ≈ x
        D_X.requires_grad_(False)  # the G step needs gradients through D, not for D's weights
        D_Y.requires_grad_(False)
        with run.autocast():
            fake_y, fake_x = G(x), F(y)  # (B, 3, 256, 256) each
            loss_G_adv = g_adv_loss(D_Y(fake_y))
            loss_F_adv = g_adv_loss(D_X(fake_x))
            loss_cyc_X = cycle_loss(F(fake_y).float(), x)  # x → G → F → x
            loss_cyc_Y = cycle_loss(G(fake_x).float(), y)  # y → F → G → y
            loss_G = loss_G_adv + loss_F_adv + args.lambda_cyc * (loss_cyc_X + loss_cyc_Y)
            if args.lambda_id > 0:
                loss_id = identity_loss(G(y).float(), y) + identity_loss(F(x).float(), x)
                loss_G = loss_G + args.lambda_id * args.lambda_cyc * loss_id
        opt_G.zero_grad(set_to_none=True)
        scaler.scale(loss_G).backward()
        average_gradients(opt_G)  # torchrun: the mean of every process's gradients (nothing in one process)
        scaler.step(opt_G)
        D_X.requires_grad_(True)
        D_Y.requires_grad_(True)
        return dict(loss_G=loss_G, loss_G_adv=loss_G_adv, loss_F_adv=loss_F_adv, loss_cyc_X=loss_cyc_X,
                    loss_cyc_Y=loss_cyc_Y), fake_y.detach(), fake_x.detach()

    def d_step(x, y, seen_fake_y, seen_fake_x):
        # (2) Update D_Y and D_X: real → 1, fake (drawn from the pools of past fakes) → 0, each loss halved
        with run.autocast():
            loss_D_Y = d_loss(D_Y(y), D_Y(seen_fake_y))
            loss_D_X = d_loss(D_X(x), D_X(seen_fake_x))
        opt_D.zero_grad(set_to_none=True)
        scaler.scale(loss_D_Y + loss_D_X).backward()  # one Adam over both: their parameters are disjoint
        average_gradients(opt_D)
        scaler.step(opt_D)
        return dict(loss_D_Y=loss_D_Y, loss_D_X=loss_D_X)

    # --cuda_graphs: two recordings, replayed (batch 1 is launch-bound); the pools' draws stay on the host
    g_step, d_step = run.graphed(g_step, opt_G), run.graphed(d_step, opt_D)
    for x, y in run.batches():
        x, y = x.to(run.device, non_blocking=True), y.to(run.device, non_blocking=True)
        g_scalars, fake_y, fake_x = g_step(x, y)
        d_scalars = d_step(x, y, pools["Y"].query(fake_y), pools["X"].query(fake_x))
        scaler.update()  # once per step, after every optimizer stepped
        run.step_done(**g_scalars, **d_scalars)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    check_args(args)
    run = Run(args, "cyclegan", argv)  # on --resume, args become the checkpoint's
    args = run.args
    with run.main_first():  # torchrun: one download, not one per process
        train_set, test_sets = make_datasets(args)

    nets = {"G": ResnetGenerator(3, 3, args.ngf, args.n_blocks), "F": ResnetGenerator(3, 3, args.ngf, args.n_blocks),
            "D_X": PatchDiscriminator(3, args.ndf), "D_Y": PatchDiscriminator(3, args.ndf)}
    for net in nets.values():
        net.to(run.device).apply(init_weights)
    betas = (args.beta1, args.beta2)
    opt_G = torch.optim.Adam([*nets["G"].parameters(), *nets["F"].parameters()], lr=args.lr, betas=betas,
                             fused=run.fused)
    opt_D = torch.optim.Adam([*nets["D_X"].parameters(), *nets["D_Y"].parameters()], lr=args.lr, betas=betas,
                             fused=run.fused)
    pools = {"X": ImagePool(args.pool_size, run.device), "Y": ImagePool(args.pool_size, run.device)}
    run.track(nets=nets, optimizers={"G": opt_G, "D": opt_D}, extras={"pool_X": pools["X"], "pool_Y": pools["Y"]})
    run.summary(train_set.name, len(train_set))
    run.restore()

    if args.eval_every:  # FID (or KID) of G(test X) vs test Y and F(test Y) vs test X every N epochs, best.pt kept
        from evaluation.scoring import TranslationEvaluation  # the scoring modules load only when asked for
        if not test_sets:
            raise UserError("--eval_every scores the translated test images, but there are none: add testA/ and "
                            "testB/ beside trainA/ and trainB/")
        run.evaluate_with(TranslationEvaluation(args, run.device, [nets["G"], nets["F"]], lambda: test_translations(
            nets["G"], nets["F"], *test_sets, run.device)))

    run.make_loader(train_set, args.batch_size)
    shown = test_sets or ([train_set[i][0] for i in range(4)], [train_set[i][1] for i in range(4)])
    fixed_x, fixed_y = (torch.stack([s[i] for i in range(min(4, len(s)))]).to(run.device) for s in shown)
    for epoch in run.epochs():
        run.set_lr(args.lr * lr_factor(epoch, args.epochs, args.decay_epochs))
        train_one_epoch(nets, opt_G, opt_D, pools, run, args)
        save_samples(nets["G"], nets["F"], fixed_x, fixed_y, run, f"epoch_{epoch + 1:03d}")
        if test_sets and run.epoch_finished():
            scores = run.log(**evaluate(nets["G"], nets["F"], *test_sets, run.device),
                             lr=opt_G.param_groups[0]["lr"])
            print(f"epoch {epoch + 1}: cycle L1 X {scores['eval_cycle_X']:.4f}, Y {scores['eval_cycle_Y']:.4f} "
                  f"on {len(test_sets[0])} + {len(test_sets[1])} test images", flush=True)


if __name__ == "__main__":
    main_guard(main)
