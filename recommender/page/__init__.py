"""The what-if page's parts, one module per sidebar section or tab; `app.py` puts them together.

- `state`: the session's inputs and notices (what one browser session changes).
- `sidebar`: uploads and the what-if knobs.
- `solving`: the solve of the current inputs (a shared `recommender.jobs` registry) and the
  baselines' plans, both cached across sessions.
- `plan`, `layouts`, `baselines`, `scenarios`, `inputs`, `downloads`: the tabs.
- `common`: small display helpers every part uses.

Each part only displays what the library computes (`recommender.whatif`, `charts`,
`scenarios`, `jobs`); nothing here builds solver variables or reads a path a user names.
"""
