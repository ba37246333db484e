"""Code review metrics (CHAOSS), read by civicbot.metrics.contribution (docs/metrics.md).

A review counts when civicbot.metrics.people.reviewers says it is reviewing (submitted, on someone
else's PR) and its author is not automation.
"""

from __future__ import annotations

import pandas as pd


def human_reviews(reviews: pd.DataFrame, users: pd.DataFrame, family_items: pd.Series) -> pd.DataFrame:
    """`reviews` (people.reviewers) of family PRs by accounts that are not automation.
    `users` has `user_id` and `is_bot` (1: automation)."""
    bots = users.loc[users["is_bot"] == 1, "user_id"]
    return reviews[reviews["item_id"].isin(family_items) & ~reviews["user_id"].isin(bots)]


def review_columns(items: pd.DataFrame, reviews: pd.DataFrame) -> pd.DataFrame:
    """Per item (the PRs'), `reviews` (how many) and `first_review_at` (the earliest, NaT if none)."""
    counts = reviews.groupby("item_id").size()
    firsts = reviews.groupby("item_id")["at"].min().astype(items["created_at"].dtype)
    keys = items["id"].to_numpy()
    return items.assign(reviews=pd.Series(counts.reindex(keys).to_numpy(), index=items.index).fillna(0),
                        first_review_at=pd.Series(firsts.reindex(keys).to_numpy(), index=items.index))
