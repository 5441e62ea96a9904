"""An example plugin: a loss of your own, compared against the bundled ones by examples/my_suite.yaml.

The loss contract (see ganbench/losses.py): ``loss(d_real, d_fake, **ctx)`` gets raw discriminator scores of
shape ``[members, batch]`` (higher means "real") and returns ``LossTerms(d_loss, g_loss, d_loss_real,
d_loss_fake)``, each of shape ``[members]``: a mean over the last dimension, never over the first.
Keyword-only arguments are hyperparameters a suite may set with ``params:``.
"""

import torch.nn.functional as F

from ganbench import LossTerms, register_loss


@register_loss("softplus_hinge")
def softplus_hinge(d_real, d_fake, *, margin: float = 1.0):
    """A smooth hinge: L_D = E softplus(margin - D(x)) + E softplus(margin + D(G(z))), L_G = -E D(G(z))."""
    real = F.softplus(margin - d_real).mean(dim=-1)
    fake = F.softplus(margin + d_fake).mean(dim=-1)
    return LossTerms(real + fake, -d_fake.mean(dim=-1), real, fake)
