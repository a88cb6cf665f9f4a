"""Run bookkeeping shared by every train.py: device, seeds, resume, logging, checkpoints, Ctrl-C, NaN stop.

It must behave identically in every folder (a user who learnt `--resume` in dcgan expects it in cyclegan), so
it lives here. It never runs a training step: each train.py writes its own (forward under `run.autocast()`,
`zero_grad`, `run.scaler.scale(loss).backward()`, `average_gradients`, `run.scaler.step`, `run.scaler.update()`).
The flags it reads are common/flags.py's. Under torchrun one Run per process trains one run together
(common/distributed.py): process 0 alone prints, draws the progress bar and writes logs, grids and checkpoints.

    run = Run(args, "dcgan", argv)          # merges the checkpoint's flags on --resume, picks the device, seeds
    run.track(nets={...}, optimizers={...})
    run.restore()                           # on --resume: weights, optimizer state, counters, RNG
    loader = run.make_loader(dataset, args.batch_size)
    for epoch in run.epochs():              # saves a checkpoint after each epoch, and on stop / Ctrl-C
        for batch in run.batches():         # tqdm bar; replays the epoch from where a resumed run stopped
            ...the D step and the G step, written out...
            run.step_done(loss_D=..., loss_G=...)   # .item() and NaN check every --log_every steps only
"""
import contextlib
import json
import os
import random
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch

from common import distributed
from common.checkpoint import (copy_checkpoint, load_checkpoint, load_state, remove_stale_temps, rng_state,
                               save_checkpoint, set_rng_state)
from common.data import device_loadable, make_loader
from common.errors import CheckpointError, DataError, NonFiniteError, UserError, one_line
from common.flags import check_cuda_graphs, check_distributed, merge_resume_args


def pick_device(name):
    cuda, mps = torch.cuda.is_available(), hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if cuda else "mps" if mps else "cpu"
    if name == "cuda" and not cuda:
        raise UserError("--device cuda but no CUDA GPU is visible to torch; use --device auto or --device cpu")
    if name == "mps" and not mps:
        raise UserError("--device mps but MPS is not available here; use --device auto or --device cpu")
    return torch.device(name)


def reproducible_cpu_math():
    """Make MKL (the CPU BLAS of PyTorch's x86 wheels) take the same code path whatever the memory alignment.

    By default MKL picks kernels by alignment, so one seed can give different bits in different processes, and a
    resumed run then drifts from the uninterrupted one. MKL_CBWR=AVX2,STRICT pins the code path and the summation
    order (AVX512,STRICT does not pin them on every CPU; COMPATIBLE does, but is much slower). A value the user set
    is kept; CPUs without AVX2 keep MKL's default.
    """
    if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):  # x86 wheels; "DEFAULT" elsewhere
        os.environ.setdefault("MKL_CBWR", "AVX2,STRICT")  # read by MKL at its first call, not at import


def cpu_has_bf16():
    """True on x86 CPUs with bf16 instructions, AMX tiles (Intel Xeon since Sapphire Rapids) or AVX512-BF16 (also
    AMD Zen 4 and later): oneDNN runs bf16 convolutions on them natively. Elsewhere bf16 is emulated."""
    checks = [getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    return any(check and check() for check in checks)  # private functions, hence the getattr


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def count_params(net):
    return sum(p.numel() for p in net.parameters())


class Run:
    """Everything around the training step; see the module docstring for the call order."""

    def __init__(self, args, arch, argv):
        self.arch = arch
        self.resume_ckpt, self.resume_path = None, None
        if args.resume:
            self.resume_path = Path(args.ckpt_dir) / "last.pt" if args.resume == "last" else Path(args.resume)
            self.resume_ckpt = load_checkpoint(self.resume_path, arch)
            args = merge_resume_args(args, self.resume_ckpt["args"], argv, self.resume_path)
        self.args = args
        self.device = distributed.setup(args.device) or pick_device(args.device)  # torchrun: one device each
        self.world, self.rank = distributed.world()
        self.main = self.rank == 0  # the process that prints, logs and saves
        reproducible_cpu_math()
        seed_everything(args.seed)
        cuda, cpu = self.device.type == "cuda", self.device.type == "cpu"
        self.amp = args.amp
        if args.amp == "auto":  # bf16 on a GPU (tensor cores, no loss scaling needed), fp32 elsewhere
            self.amp = "bf16" if cuda else "off"
        self.fast = args.fast != "off" and (cuda or cpu)  # benchmark.py measures each speed-up below
        self.channels_last = self.fast and args.fast == "channels_last"  # NHWC: opt-in, or a folder's default
        self.fused = self.fast  # fused Adam: one kernel for all parameters instead of a few per tensor
        self.cuda_graphs = getattr(args, "cuda_graphs", False)
        self.graph_steps = {}  # --cuda_graphs: a CUDAGraphStep per step function name, kept across epochs
        if self.cuda_graphs:
            check_cuda_graphs(args, self.device, self.amp)
        if self.world > 1:
            check_distributed(args, self.world)
        if self.amp == "bf16" and cpu and not cpu_has_bf16():  # oneDNN then converts every bf16 op in software
            print("warning: --amp bf16 on a CPU without bf16 instructions (AMX, AVX512-BF16): bf16 is emulated here, "
                  "much slower than fp32 (docs/speed.md); --amp off trains faster", file=sys.stderr, flush=True)
        if args.amp == "auto" and cpu and cpu_has_bf16():  # opt-in on a CPU: bf16 changes the numbers a little
            print("note: this CPU has bf16 instructions: --amp bf16 trains in bf16 natively here, usually faster "
                  "than fp32", flush=True)
        if cuda:
            torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick the fastest kernels
        if self.fast and cuda:  # TF32 tensor cores for fp32 matmuls/convs (10 mantissa bits; the rest runs in bf16)
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.out_dir, self.ckpt_path = Path(args.out_dir), Path(args.ckpt_dir) / "last.pt"
        stale = remove_stale_temps(self.ckpt_path.parent) if self.main else []  # a save killed mid-write
        if stale:
            print(f"removed {len(stale)} unfinished checkpoint write(s) from {self.ckpt_path.parent}: "
                  f"{', '.join(stale)}", flush=True)
        self.save_interval = 60 * args.save_every_min  # seconds between mid-epoch saves (0: none)
        self.last_save = time.monotonic()
        self.sample_dir = self.out_dir / "samples"
        self.nets, self.optimizers, self.schedulers, self.extras = {}, {}, {}, {}
        self.evaluation, self.best = None, None  # --eval_every: a evaluation.scoring.Evaluation, the best score
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp == "fp16")
        self.timer = self.timer_end = None
        self.epoch = self.step = self.batch_in_epoch = 0
        self.saved_step, self.interrupted, self.last_logged = None, False, {}
        self.writer = self.bar = None

    # ------------------------------------------------------------------------------------------- setup
    def track(self, nets, optimizers, schedulers=None, extras=None, compile_nets=None):
        """Register what goes into the checkpoint. `extras`: other objects with state_dict/load_state_dict whose
        state the run needs to continue exactly (CycleGAN's image pools). With --fast the nets move to
        channels_last; with --compile the nets named in `compile_nets` (default all) are compiled in place
        (state_dict keys unchanged, so checkpoints stay interchangeable). With --sync_bn under torchrun, BatchNorm
        layers normalise with the global batch's statistics (common/distributed.py)."""
        self.nets, self.optimizers, self.schedulers = nets, optimizers, schedulers or {}
        self.extras = extras or {}
        if self.world > 1 and self.args.sync_bn:
            converted = sum(distributed.sync_batchnorm(net, self.device) for net in nets.values())
            print(f"--sync_bn: {converted} BatchNorm layers use the statistics of the global batch", flush=True)
        for name, net in nets.items():
            if self.channels_last:
                net.to(memory_format=torch.channels_last)  # NHWC: what cuDNN's tensor-core convs read natively
            if self.args.compile and name in (compile_nets if compile_nets is not None else nets):
                net.compile()

    def summary(self, data_name, n_images):
        """One line per net (stylegan2-ada prints this table at start), plus where the data came from."""
        print(f"{self.arch} | device {self.device} | data: {data_name}, {n_images:,} images", flush=True)
        for name, net in self.nets.items():
            print(f"  {name}: {count_params(net):>12,} parameters  ({type(net).__name__})", flush=True)

    def evaluate_with(self, evaluation):
        """Score the generator with `evaluation` (evaluation/scoring.py) after every --eval_every epochs: logged
        as eval/<name>, and <ckpt_dir>/best.pt written whenever --eval_metric is the lowest so far."""
        self.evaluation = evaluation

    def restore(self):
        """On --resume, load nets, optimizers, scaler, schedulers, counters and RNG (last, so nothing after it
        draws random numbers that the uninterrupted run did not draw). Under torchrun every process then holds
        process 0's weights (they start equal by seed; this makes sure)."""
        distributed.broadcast_nets(self.nets.values())
        if self.resume_ckpt is None:
            return
        ck, path = self.resume_ckpt, self.resume_path
        for group, objects in (("nets", self.nets), ("optimizers", self.optimizers),
                               ("schedulers", self.schedulers), ("extras", self.extras)):
            for name, obj in objects.items():
                if name not in ck.get(group, {}):
                    raise CheckpointError(f"{path} has no {group[:-1]} '{name}'; it was written by another "
                                          "version of this train.py: start a new run")
                load_state(obj, ck[group][name], name, path)
        for opt in self.optimizers.values():  # fused/capturable belong to this run, not to the checkpoint
            for group in opt.param_groups:
                if "fused" in group:
                    group["fused"] = self.fused
                if "capturable" in group:
                    group["capturable"] = False  # CUDAGraphStep sets it when it records
        if ck.get("scaler"):
            self.scaler.load_state_dict(ck["scaler"])
        self.epoch, self.step, self.batch_in_epoch = ck["epoch"], ck["step"], ck["batch_in_epoch"]
        self.saved_step, self.best = self.step, ck.get("best")
        set_rng_state(ck["rng"])
        print(f"resumed from {path}: epoch {self.epoch + 1}, batch {self.batch_in_epoch}, step {self.step}",
              flush=True)

    def make_loader(self, dataset, batch_size):
        """The DataLoader (workers, pinned memory), or with --fast a DeviceLoader when the whole dataset fits
        on the GPU as uint8 and its transform is fixed: batches are then gathered on the GPU, no copies.
        `batch_size` is the global batch; under torchrun each process loads batch_size / processes images."""
        on_gpu = self.fast and device_loadable(dataset, self.device)
        self.loader, self.sampler = make_loader(dataset, batch_size, self.args.seed, self.args.num_workers,
                                                pin_memory=self.device.type == "cuda",
                                                device=self.device if on_gpu else None)
        self.n_batches, self.batch_size = len(dataset) // batch_size, batch_size
        return self.loader

    def fixed_noise(self, *shape, uniform=False):
        """Noise for the sample grids, drawn from its own generator: the same every epoch, after resume too.
        N(0, 1), or with `uniform` U(−1, 1) (LSGAN's z)."""
        g = torch.Generator().manual_seed(self.args.seed)
        z = torch.rand(*shape, generator=g) * 2 - 1 if uniform else torch.randn(*shape, generator=g)
        return z.to(self.device)

    # Noise for a batch, shaped like this process's share of it (B/N, ...): under torchrun every process draws
    # the global batch and keeps its rows, so the processes' noise together is the one-process draw
    def randn(self, *shape):
        return distributed.randn(*shape, device=self.device)

    def rand(self, *shape):
        return distributed.rand(*shape, device=self.device)

    def randint(self, high, shape):
        return distributed.randint(high, shape, device=self.device)

    def shard(self, *tensors):
        """This process's rows of global-batch tensors (one tensor, or a tuple of them)."""
        out = tuple(distributed.shard(t) for t in tensors)
        return out[0] if len(out) == 1 else out

    @contextlib.contextmanager
    def main_first(self):
        """Process 0 runs the block first (a dataset download), then the others (which then find the files)."""
        if not self.main:
            distributed.barrier()
        try:
            yield
        finally:
            if self.main:
                distributed.barrier()

    def autocast(self):
        if self.amp == "off":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16 if self.amp == "bf16" else torch.float16,
                              cache_enabled=not self.cuda_graphs)  # a graph cannot hold autocast's weight cache

    def graphed(self, step, *optimizers):
        """`step(*tensors)` → dict of scalar tensors: one whole training step that updates `optimizers`. Returned
        as is, or with --cuda_graphs wrapped in a CUDAGraphStep (recorded once, replayed)."""
        if not self.cuda_graphs:
            return step
        from common.cuda_graphs import CUDAGraphStep  # loaded only with the flag

        graphed = self.graph_steps.get(step.__name__)
        if graphed is None:
            graphed = self.graph_steps[step.__name__] = CUDAGraphStep(step, optimizers)
        return graphed.bind(step, optimizers)

    def set_lr(self, lr):
        """Set the learning rate of every tracked optimizer (the papers' epoch-wise schedules)."""
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = lr


    # ------------------------------------------------------------------------------------------- the loop
    def epochs(self):
        """Yield epoch indices; after a full epoch save last.pt; on stop, Ctrl-C or the end, save and report."""
        self._open_logs()
        self.first_step = self.step
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            if self.epoch >= self.args.epochs:
                print(f"{self.ckpt_path} already finished {self.epoch} epochs; pass a larger --epochs to continue")
            while self.epoch < self.args.epochs and not self._stop_agreed():
                yield self.epoch
                if self.batch_in_epoch >= self.n_batches:
                    best = self.evaluation is not None and (self.epoch + 1) % self.args.eval_every == 0 and \
                        self.main and self._evaluate()  # process 0 alone scores; the others wait in their next step
                    self.epoch, self.batch_in_epoch = self.epoch + 1, 0
                    self.save()
                    if best:  # the same checkpoint under a second name: copied, not written twice
                        copy_checkpoint(self.ckpt_path, self.ckpt_path.with_name("best.pt"))
                    if self.main and self.args.keep_every and self.epoch % self.args.keep_every == 0:
                        copy_checkpoint(self.ckpt_path, self.ckpt_path.with_name(f"epoch_{self.epoch:03d}.pt"))
            self._report_timing()
            if self.saved_step != self.step:
                self.save()
        finally:
            signal.signal(signal.SIGINT, previous)
            if self.writer:
                self.writer.close()
        if self.interrupted:
            if self.main:
                print(f"\ninterrupted: saved {self.ckpt_path} at epoch {self.epoch + 1}, step {self.step}; "
                      f"continue with --resume {self.ckpt_path}", file=sys.stderr, flush=True)
            raise SystemExit(130)
        why = "reached --max_steps" if self.args.max_steps and self.step >= self.args.max_steps else "done"
        print(f"{why}: {self.epoch} epochs + {self.batch_in_epoch} batches, step {self.step}; "
              f"checkpoint {self.ckpt_path}", flush=True)

    def batches(self):
        """This epoch's batches from where the run stands, with a tqdm bar; stops early on Ctrl-C/max_steps.
        Under torchrun the processes agree before every step whether to go on (one small all-reduce on the CPU),
        so a Ctrl-C, or an unreadable image met by one of them, stops all of them at the same step."""
        from tqdm import tqdm

        self.sampler.set_epoch(self.epoch, self.batch_in_epoch)
        self.bar = tqdm(total=self.n_batches, initial=self.batch_in_epoch, dynamic_ncols=True, unit="batch",
                        desc=f"epoch {self.epoch + 1}/{self.args.epochs}", file=sys.stderr, disable=not self.main)
        self.bar.set_postfix(self.last_logged)
        try:
            loader = iter(self.loader)
            while True:
                batch = error = None
                stop = self.should_stop()
                if not stop:
                    try:
                        batch = next(loader)
                    except StopIteration:  # the epoch's end: at the same step in every process
                        stop = True
                    except DataError as e:
                        error = e
                if self._stop_agreed(stop, error):
                    return
                yield batch
        finally:
            self.bar.close()

    def _stop_agreed(self, stop=None, error=None):
        """Whether to stop (this process's `stop`, default should_stop()), agreed by every process under torchrun:
        a Ctrl-C reaches them at slightly different moments, and one that stopped alone would leave the others
        waiting in their next all-reduce. An unreadable image met by any of them (`error`) stops all."""
        stop = self.should_stop() if stop is None else stop
        agreed, failed = distributed.agree(stop, error is not None)
        if failed:
            self._data_error(error)
        if agreed and not stop:  # another process was interrupted: this one stops as if it had been too
            self.interrupted = True
        return agreed

    def _data_error(self, error):
        """An unreadable image met mid-epoch (here or, under torchrun, by another process): keep what was trained,
        then stop with one line."""
        if self.step and self.saved_step != self.step:
            self.save()
        where = (f"the run is saved at step {self.step}: fix it, then --resume {self.ckpt_path}" if self.step else
                 "nothing was trained yet: fix it, then start again")
        if error is None:  # another process met it and names the file; this one only stops (process 0 says so)
            raise DataError(f"another process met an unreadable image (its error line names the file); {where}")
        error = DataError(f"{one_line(error)} ({where})")
        error.rank_specific = True  # printed by the process that met it, whichever it is
        raise error from None

    def step_done(self, **scalars):
        """Count the step; every --log_every steps turn the scalars into floats (a GPU sync), check they are
        finite, and write them to tqdm, TensorBoard and metrics.jsonl; once --save_every_min minutes have passed
        since the last save, write last.pt (a crash mid-epoch then loses minutes, not the epoch)."""
        self.step += 1
        self.batch_in_epoch += 1
        self.bar.update(1)
        if (self.args.time_steps is not None and self.timer is None
                and self.step - self.first_step >= self.args.time_steps):
            self._sync()
            if self.device.type == "cuda":  # steady state only: cuDNN autotuning tries large workspaces
                torch.cuda.reset_peak_memory_stats(self.device)
            self.timer = (self.step, time.perf_counter())  # warm-up done (cuDNN autotuning, compilation)
        elif self.timer is not None and self.should_stop():  # the last timed step (sample grids not included)
            self._sync()
            self.timer_end = (self.step, time.perf_counter())
        epoch_end = self.batch_in_epoch >= self.n_batches
        if epoch_end or self.step % self.args.log_every == 0:
            values = self.log(**scalars)
            self.last_logged = {k: f"{v:.4g}" for k, v in values.items()}
            self.bar.set_postfix(self.last_logged)
        if self.save_interval and not epoch_end and time.monotonic() - self.last_save >= self.save_interval \
                and self.main:
            self.save()  # mid-epoch, after this step's log line (the epoch's end saves anyway)

    def log(self, reduce=True, **scalars):
        """Scalars (tensors or numbers) → floats (a GPU sync), checked finite, written to TensorBoard and
        metrics.jsonl at the current step; returns the floats. Under torchrun each value is first averaged over
        the processes (the global batch's loss; every process calls log at the same steps), unless `reduce` is
        False (a value only process 0 has)."""
        values = {k: float(v.detach()) if torch.is_tensor(v) else float(v)  # the only host sync of the step
                  for k, v in scalars.items()}
        if reduce:
            values = distributed.mean_over_processes(values)
        bad = [k for k, v in values.items() if not np.isfinite(v)]
        if bad:
            self._diverged(f"{bad[0]} is {values[bad[0]]} at step {self.step}")
        if not self.main:
            return values
        for k, v in values.items():
            self.writer.add_scalar(f"loss/{k}" if k.startswith("loss") else k, v, self.step)
        with open(self.out_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"step": self.step, "epoch": self.epoch + 1, **values}) + "\n")
        return values

    def epoch_finished(self):
        """True after the last batch of the epoch (False when it stopped early: Ctrl-C, --max_steps)."""
        return self.batch_in_epoch >= self.n_batches

    def should_stop(self):
        return self.interrupted or (self.args.max_steps is not None and self.step >= self.args.max_steps)

    def save_images(self, images, name, nrow=None):
        """A grid of images in [-1, 1] (nrow per row; default square) to <out_dir>/samples/<name>.png and
        to TensorBoard."""
        from torchvision.utils import make_grid, save_image

        if not torch.isfinite(images).all():  # weights can be finite while G's output is not (e.g. BN overflow)
            self._diverged(f"the sample images hold NaN/inf at step {self.step}")
        if not self.main:
            return
        grid = make_grid(images.detach().float().cpu(), nrow=nrow or int(len(images) ** 0.5), normalize=True,
                         value_range=(-1, 1))
        save_image(grid, self.sample_dir / f"{name}.png")
        self.writer.add_image("samples", grid, self.step)

    # ------------------------------------------------------------------------------------------- internals
    def save(self):
        """Atomically write last.pt, but never a diverged model: the last good checkpoint stays. A write that
        fails (full disk) is one error line, and leaves the previous file as it was. Under torchrun process 0
        writes it (the processes hold the same weights, optimizer states and random states)."""
        if not self.main:
            self.saved_step, self.last_save = self.step, time.monotonic()
            return
        for name, net in self.nets.items():
            for key, t in net.state_dict().items():
                if t.is_floating_point() and not torch.isfinite(t).all():
                    self._diverged(f"{name}.{key} holds NaN/inf at step {self.step}")
        save_checkpoint(self.ckpt_path, {
            "arch": self.arch,
            "nets": {k: v.state_dict() for k, v in self.nets.items()},
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "schedulers": {k: v.state_dict() for k, v in self.schedulers.items()},
            "extras": {k: v.state_dict() for k, v in self.extras.items()},
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {},
            "epoch": self.epoch, "step": self.step, "batch_in_epoch": self.batch_in_epoch,
            "rng": rng_state(), "args": dict(vars(self.args)), "best": self.best,
        })
        self.saved_step, self.last_save = self.step, time.monotonic()

    def _evaluate(self):
        """Score the generator at the end of an epoch (--eval_every), log the scores, and say whether they are the
        best so far."""
        started = time.perf_counter()
        values = self.evaluation()
        self.log(reduce=False, **{f"eval/{k}": v for k, v in values.items()})
        metric, value, key = self.evaluation.metric, values[self.evaluation.metric], self.evaluation.key
        best = self.best is None or self.best["key"] != key or value < self.best["value"]
        if best:
            self.best = {"key": key, "value": value, "epoch": self.epoch + 1, "step": self.step}
        where = (f"the best so far: {self.ckpt_path.with_name('best.pt')}" if best
                 else f"best {self.best['value']:.4g} at epoch {self.best['epoch']}")
        print(f"epoch {self.epoch + 1}: {metric.upper()} {value:.4g} ({self.evaluation.net.label()}, "
              f"{time.perf_counter() - started:.0f} s); {where}", flush=True)
        return best

    def _sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def _report_timing(self):
        """--time_steps: steps/s and images/s since the warm-up, peak GPU memory; one JSON line for benchmark.py.
        Under torchrun process 0 reports the global batch's images/s and the number of processes."""
        if self.timer is None or self.step <= self.timer[0] or not self.main:
            return
        self._sync()
        end_step, end = self.timer_end or (self.step, time.perf_counter())
        steps, seconds = end_step - self.timer[0], end - self.timer[1]
        peak = torch.cuda.max_memory_allocated(self.device) / 2**30 if self.device.type == "cuda" else None
        result = {"arch": self.arch, "device": str(self.device), "amp": self.amp, "fast": self.fast,
                  "channels_last": self.channels_last,
                  "compile": bool(self.args.compile), "batch_size": self.batch_size, "steps": steps,
                  "seconds": seconds, "ms_per_step": 1000 * seconds / steps,
                  "images_per_s": steps * self.batch_size / seconds, "peak_gib": peak, "processes": self.world}
        print("TIMING " + json.dumps(result), flush=True)

    def _diverged(self, what):
        if self.saved_step is not None:
            kept = f"the last good checkpoint {self.ckpt_path} (step {self.saved_step}) is kept"
        else:
            kept = "no checkpoint had been written yet"
        raise NonFiniteError(f"training diverged: {what}; {kept}. Lower --lr, or try --amp off")

    def _open_logs(self):
        from torch.utils.tensorboard import SummaryWriter

        if not self.main:  # process 0 alone writes logs
            return
        self.sample_dir.mkdir(parents=True, exist_ok=True)
        metrics = self.out_dir / "metrics.jsonl"
        if metrics.exists():  # a resumed run drops what the interrupted tail logged after its checkpoint
            lines = [ln for ln in metrics.read_text().splitlines() if ln and json.loads(ln)["step"] <= self.step]
            metrics.write_text("".join(ln + "\n" for ln in lines))
        (self.out_dir / "args.json").write_text(json.dumps(vars(self.args), indent=2) + "\n")
        self.writer = SummaryWriter(str(self.out_dir / "tb"), purge_step=self.step if self.step else None)

    def _on_sigint(self, signum, frame):
        if self.interrupted:  # second Ctrl-C: the user wants out now
            raise KeyboardInterrupt
        self.interrupted = True
        if self.main:
            print("\nCtrl-C: finishing this step and saving a checkpoint (Ctrl-C again quits without saving)",
                  file=sys.stderr, flush=True)


def main_guard(main):
    """Run `main()`; a UserError (bad flag, data, checkpoint; divergence) becomes one line and exit code != 0.
    Under torchrun the processes meet the same errors together: process 0 prints the line, the others only exit
    (but for an unreadable image, which the process that met it names)."""
    try:
        main()
        distributed.shutdown()
    except UserError as e:
        size, rank, _ = distributed.launched()
        if rank == 0 or getattr(e, "rank_specific", False):  # (another process's bar may be mid-line: \n first)
            print(f"{chr(10) if rank else ''}error: {one_line(e)}", file=sys.__stderr__ if rank else sys.stderr,
                  flush=True)
        elif size > 1:
            distributed.let_process_0_speak()
        raise SystemExit(1 if isinstance(e, NonFiniteError) else 2)
    except KeyboardInterrupt:
        print("\ninterrupted before a checkpoint could be saved", file=sys.stderr, flush=True)
        raise SystemExit(130)
    except torch.OutOfMemoryError:
        print("error: out of GPU memory; lower --batch_size (or use --amp bf16)", file=sys.stderr, flush=True)
        raise SystemExit(2)
