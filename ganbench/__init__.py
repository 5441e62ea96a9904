"""ganbench: fair, multi-seed, equally tuned comparisons of GAN losses and optimizer strategies."""

__version__ = "0.1.0"
