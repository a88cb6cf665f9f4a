"""The flags every train.py shares, their types and checks, and how a resumed run merges them with the checkpoint's.

    p = ArgumentParser(description=...)      # defaults in --help, a bad flag is one line (exit 2)
    p.add_argument("--lr", type=positive_float, ...)
    add_data_args(p); add_run_args(p, HERE)  # --dataset --channels; --data_root ... --resume --device --amp ...

It must behave identically in every folder (a user who learnt `--resume` in dcgan expects it in cyclegan), so it
lives here; common/run.py holds the run loop these flags drive.
"""
import argparse
from pathlib import Path

from common.errors import UserError

# Flags that describe how this process runs, not what is trained: always taken from the command line.
CONTROL_FLAGS = {"resume", "device", "num_workers", "log_every", "max_steps", "fast", "compile", "cuda_graphs",
                 "time_steps", "save_every_min", "sync_bn"}
# Flags a resumed run keeps from the checkpoint unless given again (where the run lives, how long it runs, and
# its precision: a CPU run started with --amp bf16 goes on in bf16 after a plain --resume, not in fp32; the
# --gp_precision of wgan_gp and cgan likewise).
# What is measured may change on --resume too (best.pt then starts again).
CONTINUITY_FLAGS = {"epochs", "data_root", "out_dir", "ckpt_dir", "amp", "keep_every", "eval_every", "eval_num",
                    "eval_metric", "eval_backbone", "backbone_weights", "gp_precision"}

# The feature nets evaluation/feature_nets.py builds (--eval_backbone; evaluate.py --backbone)
FEATURE_NETS = ("inception", "efficientnet-lite0", "mnist")


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: X)" to a flag's help unless the help already says its default or there is none (None)."""

    def _get_help_string(self, action):
        if action.default is None or "default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class ArgumentParser(argparse.ArgumentParser):
    """argparse that shows defaults in --help and reports a bad flag in one line (no usage block), exit 2."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(**kwargs)

    def error(self, message):
        from common.distributed import launched, let_process_0_speak

        if launched()[1] != 0:  # under torchrun every process meets the bad flag: process 0 says it once
            let_process_0_speak()
            self.exit(2)
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def non_negative_float(text):
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def unit_float(text):
    """A number in [0, 1): Adam's betas, momentum terms."""
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def add_run_args(parser, folder, cuda_graphs=False):
    """The flags every train.py shares, with defaults inside the architecture's folder (works from any cwd).
    cuda_graphs: the folder's train_one_epoch runs its step through Run.graphed, so --cuda_graphs exists."""
    folder = Path(folder)
    g = parser.add_argument_group("run (same in every folder)")
    g.add_argument("--data_root", default=str(folder.parent / "data"),
                   help="dataset folder; downloads go here (default: data/ at the repo root)")
    g.add_argument("--out_dir", default=str(folder / "runs"),
                   help="samples/, TensorBoard logs (tb/), metrics.jsonl, args.json (default: <folder>/runs)")
    g.add_argument("--ckpt_dir", default=str(folder / "checkpoints"),
                   help="where last.pt is written (default: <folder>/checkpoints)")
    g.add_argument("--resume", nargs="?", const="last", default=None, metavar="CKPT",
                   help="continue a run: a checkpoint path, or no value for <ckpt_dir>/last.pt")
    g.add_argument("--save_every_min", type=non_negative_float, default=30.0, metavar="M",
                   help="also write last.pt in the middle of an epoch once M minutes have passed since the last "
                        "save, so a crash loses at most M minutes (0: at epoch ends, --max_steps and Ctrl-C only)")
    g.add_argument("--keep_every", type=non_negative_int, default=0, metavar="K",
                   help="also keep <ckpt_dir>/epoch_NNN.pt every K epochs (0 = off: last.pt only)")
    g.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                   help="auto = cuda, else mps, else cpu")
    g.add_argument("--seed", type=int, default=0, help="seeds weights, noise and data order")
    g.add_argument("--num_workers", type=non_negative_int, default=2, help="DataLoader worker processes")
    g.add_argument("--log_every", type=positive_int, default=20,
                   help="steps between loss logs (each one syncs the GPU) and NaN checks")
    g.add_argument("--max_steps", type=positive_int, default=None,
                   help="stop (and save) after this many optimizer steps in total; for smoke tests")
    g.add_argument("--amp", default="auto", choices=["auto", "off", "bf16", "fp16"],
                   help="mixed precision autocast: auto = bf16 on CUDA, off elsewhere (fp16 adds a GradScaler); on "
                        "CPUs with bf16 instructions (AMX, AVX512-BF16) --amp bf16 runs natively and usually faster; "
                        "--resume keeps the checkpoint's unless given")
    g.add_argument("--fast", default="on", choices=["on", "channels_last", "off"],
                   help="on: fused Adam, and on CUDA TF32 matmuls/convs and small fixed-transform datasets held on "
                        "the GPU; channels_last: also NHWC nets; off: none of them (plain fp32 eager, with --amp off)")
    g.add_argument("--compile", action="store_true", help="torch.compile the nets (opt-in: compiling takes minutes)")
    if cuda_graphs:
        g.add_argument("--cuda_graphs", action="store_true",
                       help="record the training step once as a CUDA graph and replay it (opt-in, CUDA only; "
                            "for steps bound by kernel launches: small images, batch 1). Experimental: checked on "
                            "a CPU emulation only (docs/speed.md)")
    g.add_argument("--sync_bn", action="store_true",
                   help="under torchrun: BatchNorm uses the global batch's statistics (off: each process's own batch, "
                        "as the papers' per-GPU statistics)")
    g.add_argument("--time_steps", type=non_negative_int, default=None, metavar="WARMUP",
                   help="after WARMUP steps, time the rest of the run; print images/s and peak GPU memory at the end")
    return parser


def add_data_args(parser, folder_help="folder = any images under --data_root"):
    """--dataset and --channels, the same in every folder that trains on single images."""
    from common.data import DATASETS

    parser.add_argument("--dataset", default="mnist", choices=DATASETS, help=folder_help)
    parser.add_argument("--channels", type=int, choices=[1, 3], default=None,
                        help="image channels (default: 1 for mnist, 3 otherwise)")
    return parser


def explicit_flags(argv):
    """Names of the flags written on the command line (to tell a user's choice from a default)."""
    return {a[2:].split("=", 1)[0] for a in argv if a.startswith("--")}


def merge_resume_args(args, ckpt_args, argv, ckpt_path):
    """A resumed run trains what the checkpoint trained: its flags win, and a conflicting flag is an error. The
    checkpoint must hold every flag of this train.py that says what is trained (all but CONTROL_FLAGS and
    CONTINUITY_FLAGS): one without them (another folder's checkpoint relabelled, or one from another version) is
    one line naming the checkpoint and what it lacks, before any net is built from defaults in their place."""
    from common.checkpoint import missing_args

    missing = [key for key in vars(args) if key not in CONTROL_FLAGS | CONTINUITY_FLAGS and key not in ckpt_args]
    if missing:
        raise missing_args(ckpt_path, getattr(ckpt_args, "arch", None) or "this folder", missing)
    given = explicit_flags(argv)
    for key, saved in ckpt_args.items():
        if key in CONTROL_FLAGS or not hasattr(args, key):
            continue
        if key in given:
            if key not in CONTINUITY_FLAGS and getattr(args, key) != saved:
                raise UserError(f"--{key} {getattr(args, key)} differs from {saved} in {ckpt_path}; a resumed run "
                                f"keeps its configuration: drop --{key}, or start a new run without --resume")
            continue
        setattr(args, key, saved)
    if "ckpt_dir" not in given:
        args.ckpt_dir = str(Path(ckpt_path).parent)
    return args


def check_distributed(args, world):
    """What a run on `world` processes (torchrun) cannot do, as one line; the batch split is checked where the
    loader is made (common/data.py), and by folders with several batch sizes at start."""
    if getattr(args, "cuda_graphs", False):
        raise UserError(f"--cuda_graphs records one process's step; it does not yet record the gradient all-reduce "
                        f"of {world} processes: drop --cuda_graphs, or run one process")
    if hasattr(args, "batch_size"):
        from common.distributed import local_batch

        local_batch(args.batch_size)


def check_cuda_graphs(args, device, amp):
    if device.type != "cuda":
        raise UserError(f"--cuda_graphs records CUDA kernels, but the device is {device.type}; drop --cuda_graphs")
    if args.fast == "off":
        raise UserError("--cuda_graphs needs the fused (capturable) Adam of --fast on; drop --fast off")
    if amp == "fp16":
        raise UserError("--cuda_graphs cannot replay fp16's GradScaler (it checks for inf on the host every step); "
                        "use --amp bf16 or --amp off")
    if args.compile:
        raise UserError("--cuda_graphs and --compile both record the step; pick one")


def add_eval_args(parser):
    """--eval_every and its companions, in every train.py whose folder has a generator to score."""
    g = parser.add_argument_group("evaluation during training (python evaluate.py scores a checkpoint)")
    g.add_argument("--eval_every", type=non_negative_int, default=0,
                   help="epochs between scores of the generator (logged, and best.pt kept beside last.pt); 0 = off")
    g.add_argument("--eval_num", type=positive_int, default=10_000,
                   help="generated images per score (translation folders: their test set)")
    g.add_argument("--eval_metric", default="fid", choices=["fid", "kid"],
                   help="what is logged and decides best.pt (the lowest so far)")
    g.add_argument("--eval_backbone", default="inception", choices=FEATURE_NETS,
                   help="feature net: inception = the standard FID (weights downloaded once); efficientnet-lite0 "
                        "works offline (not comparable to published FID); mnist = the project's digit classifier")
    g.add_argument("--backbone_weights", "--inception_weights", default=None, metavar="FILE",
                   help="the feature net's weights file (inception: torch-fidelity's; mnist: required)")
    return parser
