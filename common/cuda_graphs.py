"""CUDA graphs for a whole training step (--cuda_graphs): record the step once, then replay it.

Run.graphed (common/run.py) wraps a folder's step function in a CUDAGraphStep when the flag is given; tests/
emulate_graphs.py replaces its three CUDA calls to test the logic around them on a CPU.
"""
import torch

class CUDAGraphStep:
    """A whole training step (forwards, backwards, optimizer steps) recorded once as a CUDA graph and then
    replayed: one launch per step instead of hundreds of kernel launches, for the models whose step is bound by
    the host (pix2pix and CycleGAN at batch 1, the SR models). PyTorch's whole-network capture recipe (docs:
    CUDA semantics > CUDA Graphs): eager steps on a side stream first (cuDNN autotuning, allocation of the
    gradients and the optimizer state), then one capture with the optimizers made capturable; each later call
    copies its inputs into the graph's static input tensors and replays. Its outputs (the step's scalars) are
    the graph's static tensors, overwritten by the next replay: read them before the next call.

    The learning rates are constants inside the recorded kernels, so a changed lr (the papers' schedules) is
    recorded again, as are inputs of a new shape. train_one_epoch defines its step function anew each epoch;
    `bind` keeps the recording when the new function is the same code over the same objects (nets, optimizers,
    args), so an epoch costs no capture unless its lr changed. Host-side logic (CycleGAN's image pool) stays
    outside: two graphs there.
    """

    WARMUP = 3  # eager steps before the first capture (PyTorch's recipe: a few, on a side stream)

    def __init__(self, step, optimizers):
        self.warmups = 0
        self.step = self.graph = self.static_in = self.static_out = self.lrs = None
        self.optimizers = []
        self.bind(step, optimizers)

    @staticmethod
    def same_function(a, b):
        """Same code closing over the same objects: replaying a's recording does what b would do."""
        def cells(f):
            try:
                return [c.cell_contents for c in f.__closure__ or ()]
            except ValueError:  # an empty cell (a name not yet assigned): nothing to compare
                return None

        if a is None or a.__code__ is not b.__code__ or a.__defaults__ != b.__defaults__:
            return False
        ca, cb = cells(a), cells(b)
        return ca is not None and cb is not None and all(x is y for x, y in zip(ca, cb))

    def bind(self, step, optimizers):
        """Take this epoch's step function; drop the recording unless it does exactly what the recorded one did."""
        if not (self.same_function(self.step, step) and list(optimizers) == list(self.optimizers)):
            self.graph = self.static_out = None
        self.step, self.optimizers = step, list(optimizers)
        return self

    def learning_rates(self):
        return tuple(float(g["lr"]) for opt in self.optimizers for g in opt.param_groups)

    def needs_capture(self, inputs):
        return (self.graph is None or self.learning_rates() != self.lrs
                or [x.shape for x in inputs] != [x.shape for x in self.static_in])

    def __call__(self, *inputs):
        if self.warmups < self.WARMUP:
            self.warmups += 1
            return self.eager(*inputs)
        if self.needs_capture(inputs):
            self.capture(inputs)
        for static, x in zip(self.static_in, inputs):
            static.copy_(x, non_blocking=True)
        self.replay()
        return self.static_out

    def capture(self, inputs):
        self.graph = self.static_out = None  # frees the previous recording's memory pool
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)  # gradients are then allocated in the graph's own memory pool
        self.static_in = [x.detach().clone() for x in inputs]
        self.lrs = self.learning_rates()
        self.record()

    # The CUDA calls (tests/emulate_graphs.py replaces these three to run the logic above on a CPU)
    def eager(self, *inputs):
        """A warm-up step, eager, on a side stream as capture needs."""
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            out = self.step(*inputs)
        torch.cuda.current_stream().wait_stream(side)
        return out

    def record(self):
        for opt in self.optimizers:
            for group in opt.param_groups:
                group["capturable"] = True  # step counts and bias corrections stay on the GPU, inside the graph
        torch.cuda.synchronize()
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):  # records only: nothing runs until replay()
            self.static_out = self.step(*self.static_in)

    def replay(self):
        self.graph.replay()
