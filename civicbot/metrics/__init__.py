"""Metrics: tables computed from the store, each written by one documented function."""

from __future__ import annotations


def write_all_metrics(db, config) -> dict[str, int]:
    """Every metrics table, in order (what `civicbot metrics` and the scheduler's metrics job run):
    who is a person and which PRs are proposals (`accounts`, `pr_kinds`, read by all the others),
    contribution metrics, diffusion (and the public-value estimate, which needs the regional sites),
    then the tables behind the maintainers' canned queries."""
    from .contribution import write_contribution_metrics
    from .diffusion import write_diffusion
    from .maintainers import write_maintainer_tables
    from .people import write_classification
    from .public_value import write_public_value
    from .summary import write_contributions

    return {**write_classification(db, config), **write_contribution_metrics(db, config, classified=True),
            "contributions": write_contributions(db, config),
            **write_diffusion(db, config), "public_value": write_public_value(db, config),
            **write_maintainer_tables(db, config)}
