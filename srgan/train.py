"""Train SRGAN (Ledig et al. 2017, https://arxiv.org/abs/1609.04802): 4× super-resolution in two phases.

    python srgan/train.py --phase psnr --data_root data/DIV2K_train_HR --eval_dir data/Set14   # SRResNet, MSE
    python srgan/train.py --phase gan --data_root data/DIV2K_train_HR --eval_dir data/Set14    # + VGG + adversarial
    python srgan/train.py --phase gan --resume

Defaults are the paper's (Section 3.2): 96×96 HR crops (24×24 LR), batch 16, Adam lr 1e-4 β1 0.9; the PSNR phase
10⁶ iterations of MSE; the GAN phase starts from that SRResNet, 10⁵ iterations at lr 1e-4 and 10⁵ at 1e-5, loss
VGG54 content + 10⁻³ adversarial. (--iterations sets the count; --epochs overrides it.)
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))  # the repo root, for common/ (this folder stays first for model.py)

import torch

from common.distributed import average_gradients
from common.flags import ArgumentParser, add_run_args, positive_float, positive_int, unit_float
from common.run import Run, main_guard
from common.super_resolution import (epochs_for, load_pretrained,
                                     make_perceptual, phase_paths)
from dataset import make_dataset
from model import Discriminator, SRResNet
from utils import (PAPER_CONTENT_SCALE, backward_by_term, content_loss, d_loss, g_adv_loss, mse_loss,
                   save_samples)

VGG54_AFTER_RELU = 35  # torchvision vgg19.features index of conv5_4's ReLU: SRGAN's φ5,4


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--phase", default="psnr", choices=["psnr", "gan"], help="psnr: SRResNet with MSE; gan: SRGAN")
    p.add_argument("--iterations", type=positive_int, default=None,
                   help="paper: 1,000,000 (psnr) and 200,000 (gan, the last half at lr/10)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="passes over the HR images (overrides --iterations)")
    p.add_argument("--batch_size", type=positive_int, default=16, help="paper: 16")
    p.add_argument("--lr", type=positive_float, default=1e-4, help="Adam learning rate; paper: 1e-4")
    p.add_argument("--beta1", type=unit_float, default=0.9, help="Adam β1; paper: 0.9")
    p.add_argument("--hr_size", type=positive_int, default=96, help="HR crop side; paper: 96")
    p.add_argument("--scale", type=int, default=4, choices=[2, 4, 8], help="upscaling factor; paper: 4")
    p.add_argument("--n_blocks", type=positive_int, default=16, help="residual blocks; paper: 16")
    p.add_argument("--ndf", type=positive_int, default=64, help="D width: channels of its first conv")
    p.add_argument("--adv_weight", type=positive_float, default=1e-3,
                   help="weight of the adversarial loss; paper: 1e-3")
    p.add_argument("--content_scale", type=positive_float, default=PAPER_CONTENT_SCALE,
                   help="factor on the VGG feature maps in the content loss; the paper's 1/12.75 is set for its "
                        "Caffe VGG19 on [0, 255] input (README: Differences; the logged grad_content / grad_adv "
                        "show the balance it gives)")
    p.add_argument("--perceptual", default="vgg19", choices=["vgg19", "efficientnet-lite0"],
                   help="the content loss's feature network: vgg19 (the paper's) or efficientnet-lite0 "
                        "(ImageNet weights that install offline; not the paper's loss)")
    p.add_argument("--vgg_weights", default=None,
                   help="VGG19 state_dict for the content loss (default: torchvision's); none = untrained (tests)")
    p.add_argument("--pretrained", default=None, help="gan phase: the PSNR checkpoint to start from "
                   "(default: srgan/checkpoints/psnr/last.pt); none = random")
    p.add_argument("--crops_per_image", type=positive_int, default=1,
                   help="random crops of each HR image per epoch (for small HR sets)")
    p.add_argument("--eval_dir", default=None, help="HR images scored (PSNR/SSIM on Y vs bicubic) after epochs")
    p.add_argument("--eval_every", type=positive_int, default=10, help="epochs between evaluations (and the last)")
    add_run_args(p, HERE, cuda_graphs=True)
    p.set_defaults(data_root=str(HERE.parent / "data" / "DIV2K_train_HR"))
    args = p.parse_args(argv)
    args.iterations = args.iterations or (1_000_000 if args.phase == "psnr" else 200_000)
    phase_paths(args, HERE)
    return args


def train_one_epoch(G, D, vgg, opt_G, opt_D, run, args):
    scaler = run.scaler  # --amp fp16 scales the losses against underflow; otherwise its calls pass straight through

    def psnr_step(lr_img, hr):  # SRResNet: minimize the pixel-wise MSE
        with run.autocast():
            loss_G = mse_loss(G(lr_img).float(), hr)
        opt_G.zero_grad(set_to_none=True)
        scaler.scale(loss_G).backward()
        average_gradients(opt_G)  # torchrun: the mean of every process's gradients (nothing in one process)
        scaler.step(opt_G)
        return dict(loss_G_MSE=loss_G)

    def gan_step(lr_img, hr):  # lr_img: (B, 3, 24, 24), hr: (B, 3, 96, 96), in [0, 1]
        # (1) Update D: maximize log D(I^HR) + log(1 − D(G(I^LR)))
        with run.autocast():
            sr = G(lr_img)  # (B, 3, 96, 96)
            real_logits, fake_logits = D(hr), D(sr.detach())
            loss_D = d_loss(real_logits, fake_logits)
        opt_D.zero_grad(set_to_none=True)
        scaler.scale(loss_D).backward()
        average_gradients(opt_D)
        scaler.step(opt_D)

        # (2) Update G: minimize VGG54 content loss + 10⁻³ · (−log D(G(I^LR)))
        with run.autocast():
            with torch.no_grad():
                hr_features = vgg(hr)
            loss_content = content_loss(vgg(sr).float(), hr_features.float(), args.content_scale)
            loss_adv = g_adv_loss(D(sr))
            loss_G = loss_content + args.adv_weight * loss_adv
        opt_G.zero_grad(set_to_none=True)  # the backward of loss_G, one term at a time into the SR image:
        grad_content, grad_adv = backward_by_term(sr, [loss_content, args.adv_weight * loss_adv], scaler)
        average_gradients(opt_G)
        scaler.step(opt_G)
        return dict(loss_D=loss_D, loss_G=loss_G, loss_content=loss_content, loss_adv=loss_adv,
                    D_real=torch.sigmoid(real_logits).mean(), D_fake=torch.sigmoid(fake_logits).mean(),
                    grad_content=grad_content, grad_adv=grad_adv)  # ‖∂term/∂SR‖: the two terms' balance

    # --cuda_graphs: recorded once, replayed (the step is launch-bound at batch 16 on small crops)
    step = run.graphed(psnr_step, opt_G) if args.phase == "psnr" else run.graphed(gan_step, opt_D, opt_G)
    for lr_img, hr in run.batches():
        scalars = step(lr_img.to(run.device, non_blocking=True), hr.to(run.device, non_blocking=True))
        scaler.update()  # once per step, after every optimizer stepped
        run.step_done(**scalars)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    run = Run(args, "srgan", argv)  # on --resume, args become the checkpoint's
    args = run.args
    with run.main_first():  # torchrun: one download, not one per process
        dataset = make_dataset(args)
    epochs_for(args, len(dataset))
    eval_files = None
    if args.eval_dir:  # PSNR/SSIM against bicubic every --eval_every epochs; the scoring code loads only then
        from evaluation.super_resolution import eval_images, evaluate_after_epoch
        eval_files = eval_images(args.eval_dir)

    G = SRResNet(args.n_blocks, 64, args.scale).to(run.device)
    opt_G = torch.optim.Adam(G.parameters(), lr=args.lr, betas=(args.beta1, 0.999), fused=run.fused)
    nets, optimizers, D, opt_D, vgg = {"G": G}, {"G": opt_G}, None, None, None
    if args.phase == "gan":
        if not args.resume:
            load_pretrained(G, args.pretrained, "srgan")
        D = Discriminator(args.ndf).to(run.device)
        opt_D = torch.optim.Adam(D.parameters(), lr=args.lr, betas=(args.beta1, 0.999), fused=run.fused)
        nets["D"], optimizers["D"] = D, opt_D
        vgg = make_perceptual(args.perceptual, VGG54_AFTER_RELU, args.vgg_weights, run.device)
    run.track(nets=nets, optimizers=optimizers)
    run.summary(dataset.name, len(dataset))
    run.restore()

    run.make_loader(dataset, args.batch_size)
    fixed = [torch.stack(t).to(run.device) for t in zip(*(dataset[(i, i)] for i in range(min(4, len(dataset)))))]
    for epoch in run.epochs():
        if args.phase == "gan":  # 10⁵ iterations at 1e-4, then 10⁵ at 1e-5 (the paper)
            run.set_lr(args.lr * (0.1 if epoch >= args.epochs / 2 else 1.0))
        train_one_epoch(G, D, vgg, opt_G, opt_D, run, args)
        save_samples(G, *fixed, run, f"epoch_{epoch + 1:04d}")
        if eval_files:
            evaluate_after_epoch(G, eval_files, args, run, epoch)


if __name__ == "__main__":
    main_guard(main)
