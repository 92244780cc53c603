"""Model builders: ``build_model(ModelConfig) -> nn.Module``."""

from explorer.models.resnet import ResNet, build_model

__all__ = ["ResNet", "build_model"]
