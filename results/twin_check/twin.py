"""A loss and its twin: ``ns_twin`` is the non-saturating loss with D's scores scaled by 1 + 1e-6, the same loss
under another name. A benchmark that declares the two different has measured its tuning, not the loss."""

from ganbench import LossTerms, register_loss
from ganbench.losses import non_saturating

SCALE = 1.0 + 1e-6


@register_loss("ns_twin")
def ns_twin(d_real, d_fake):
    """The non-saturating loss (Goodfellow et al. 2014) on scores scaled by 1 + 1e-6: a twin of non_saturating."""
    terms = non_saturating(SCALE * d_real, SCALE * d_fake)
    return LossTerms(*terms)
