"""Layer 7: one module per reproduced figure, each a library call the CLI wraps.

* :mod:`xbarsim.experiments.thresholds`: paper Fig. 2, switching-threshold statistics.
* :mod:`xbarsim.experiments.image_tuning`: paper Fig. 3, a grayscale image tuned into a
  crossbar.
* :mod:`xbarsim.experiments.published`: the published numbers they are compared with.
"""

from xbarsim.experiments.published import published, published_value

__all__ = ["published", "published_value"]
