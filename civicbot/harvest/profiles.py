"""People's profiles (GET /users/{login}): the `Profiles` mixin of civicbot/harvest/run.py.

After the repos of a run, every account the store knows that is a person (not a bot, not an
organisation) and whose profile was never fetched, or last fetched more than
`harvest.profile_refresh_days` ago, is asked for its profile: new people first, then the oldest
fetched, at most `harvest.profile_budget` requests a run and only while the quota stays above
its reserve: the people left wait for the next run, which still ends `complete` (docs/harvest.md). A profile already
fetched is asked with its ETag, so an unchanged one answers 304 and costs no quota. Each profile
is written in its own transaction: a run killed at any moment resumes with the people not done.
A 404 (account deleted, or renamed since we saw it) is recorded as `gone` and asked again after
the same number of days; it never fails the run.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from civicbot.store import write
from civicbot.store.schema import UTC_FORMAT
from civicbot.store.transaction import write_transaction

from .client import HarvestHTTPError, NotFound, RateLimited, TokenRefused
from .resources import ITEM_ERRORS


def profiles_due(db, harvested_at: str, refresh_days: int, limit: int) -> list[tuple[int, str, str | None]]:
    """(id, login, etag) of the people whose profile is due, never fetched first, then oldest fetched."""
    now = datetime.strptime(harvested_at, UTC_FORMAT).replace(tzinfo=timezone.utc)
    cutoff = (now - timedelta(days=refresh_days)).strftime(UTC_FORMAT)
    return [tuple(row) for row in db.execute(
        """SELECT id, login, profile_etag FROM users
           WHERE is_bot = 0 AND coalesce(type, 'User') != 'Organization' AND login != ''
             AND (profile_fetched_at IS NULL OR profile_fetched_at <= ?)
           ORDER BY profile_fetched_at IS NOT NULL, profile_fetched_at, id LIMIT ?""",
        [cutoff, limit])]


class Profiles:
    """Needs the harvester's db, client, prov, result, full, config, progress, bot_rule, _check_reserve."""

    def _profiles(self) -> None:
        settings = self.config.harvest
        due = profiles_due(self.db, self.prov.harvested_at, settings.profile_refresh_days, settings.profile_budget)
        counts = {"fetched": 0, "unchanged": 0, "gone": 0, "left": 0}
        for n, (user_id, login, etag) in enumerate(due):
            if self.client.reserve_reached:  # profiles take only the quota the repos left: the rest wait
                counts["left"] = len(due) - n
                break
            self._check_reserve()
            try:
                page = self.client.get_json(f"/users/{login}", etag=None if self.full else etag)
            except NotFound:
                with write_transaction(self.db):
                    write.write_profile(self.db, user_id, None, self.prov, self.bot_rule, None)
                counts["gone"] += 1
                continue
            except (TokenRefused, RateLimited):
                raise  # the run's, not this person's
            except HarvestHTTPError as exc:  # this person only; asked again next run
                self.result.skipped.append(f"profile of user {user_id}: {exc}")
                continue
            try:
                with write_transaction(self.db):
                    if page.not_modified:
                        write.profile_checked(self.db, user_id, self.prov)
                    else:
                        write.write_profile(self.db, user_id, page.body, self.prov, self.bot_rule, page.etag)
            except ITEM_ERRORS as exc:
                self.result.skipped.append(f"profile of user {user_id}: {exc}")
                continue
            counts["unchanged" if page.not_modified else "fetched"] += 1
            self.result.items_written += not page.not_modified
        self.progress({"kind": "profiles", **counts, "quota": self.client.quota.remaining})
