"""MIG layout recommender: cost-minimizing NVIDIA MIG layouts for a fleet, decided by CP-SAT.

Entry points: `recommender.catalog.load_catalog`, `recommender.inputs.load_problem`,
`recommender.solve.solve`, `recommender.validate.validate_plan`, `recommender.exports`.
"""
