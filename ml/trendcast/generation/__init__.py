"""Building blocks of the synthetic shop generator; the public entry point is :mod:`trendcast.generate`."""
