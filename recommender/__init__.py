"""MIG layout recommender: cost-minimizing NVIDIA MIG layouts for a fleet, decided by CP-SAT.

Entry points: `recommender.reading.load_catalog`, `recommender.reading.load_problem`,
`recommender.solve.solve`, `recommender.validate.validate_plan`, `recommender.exports`.
"""
