"""Tools beside the product: the demo, its report and the simulated funnels that feed it."""
