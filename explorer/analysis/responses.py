"""Layer responses, the paper's Figure 7: the standard deviation of each 3×3 layer's output, after its batch
norm and before the nonlinearity - for a ResNet that is the residual branch before the addition - over test
images, with BN in eval mode. The paper's finding: ResNets respond more weakly than their plain twins, and
deeper ResNets more weakly still, as if each block only nudged its input (residual functions near zero).

For pre-activation units (BN and ReLU before each convolution) the response of a 3×3 layer is its convolution's
output, which is what is added to the shortcut.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from explorer.analysis.inputs import Network


def response_layers(network: Network) -> list[tuple[str, nn.Module]]:
    """The modules whose outputs are the responses of the 3×3 layers, in order, named as the layer table names
    the convolution they follow."""
    model = network.model
    modules = dict(model.named_modules())
    found = []
    for name, module in model.named_modules():
        if not (isinstance(module, nn.Conv2d) and module.kernel_size == (3, 3)):
            continue
        if network.config.preact:
            found.append((name, module))
            continue
        parent, _, conv = name.rpartition(".")
        bn_name = (f"{parent}." if parent else "") + conv.replace("conv", "bn")
        if bn_name in modules:
            found.append((name, modules[bn_name]))
    return found


@torch.no_grad()
def layer_responses(network: Network, x: torch.Tensor, batch: int = 250) -> dict:
    """{"layers": [names], "std": [floats]} over the images ``x``."""
    layers = response_layers(network)
    sums = [torch.zeros(3, dtype=torch.float64) for _ in layers]  # count, sum, sum of squares

    def hook(index):
        def record(_module, _inputs, output):
            values = output.detach().double()
            sums[index] += torch.stack([torch.tensor(float(values.numel()), dtype=torch.float64),
                                        values.sum().cpu(), values.square().sum().cpu()])
        return record

    handles = [module.register_forward_hook(hook(i)) for i, (_, module) in enumerate(layers)]
    try:
        for start in range(0, len(x), batch):
            network.model(x[start:start + batch])
    finally:
        for handle in handles:
            handle.remove()
    stds = []
    for count, total, squares in (s.tolist() for s in sums):
        mean = total / count
        stds.append(math.sqrt(max(0.0, squares / count - mean * mean)))
    return {"layers": [name for name, _ in layers], "std": stds}
