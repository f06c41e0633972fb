"""An example rlgen plugin (see README.md): every part arrives through an entry point in pyproject.toml.

- `shapes.Spiral`: a data source (`data.source: spiral`)
- `envs`: registers the gymnasium id `rlgen_example/Corridor-v0` (`corridor.CorridorEnv`)
- `nets.FourierMLP`: a backbone (`backbone: {type: fourier, ...}`)
- `density.DensityExperiment`: an experiment kind (`kind: density`)
"""
