"""The live cluster: import its state, check its mig-parted configs, export to the GPU Operator.

One module per outside format (docs/design.md, "The running fleet ... and the live cluster"):
`kubectl` (the listing shape), `nodes` (kubectl nodes), `pods` (kubectl pods + DCGM samples),
`lgip` (new catalog entries from `nvidia-smi mig -lgip/-lgipp`), `lgi` (the instances running
now), `migparted` (mig-parted configs and `check_config`), `gpu_operator` (the ConfigMap,
ClusterPolicy patch and node labels).
Every reader reports bad input as `recommender.errors.InputError`, never a traceback.
"""
