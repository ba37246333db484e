"""Good-first-issue triage: score open issues from the store, propose or add the label, evaluate.

The stages read the store and write their own tables (`gfi_candidates`, `label_audit`,
`gfi_evaluation`):

- `features`: an issue's features rebuilt *as of* a decision time from the event log (labels
  from labeled/unlabeled events, only earlier comments), so nothing later leaks in;
- `model`: ground truths (GT-M, GT-N, GT-S) and a calibrated logistic regression on character
  n-grams and structure, with a documented heuristic when the history is too small;
- `score`: `civicbot triage` (writes `gfi_candidates`);
- `policy` + `writer`: `civicbot label` (dry run by default; `--apply` only for allowlisted repos);
- `evaluate`: `civicbot triage evaluate` (walk-forward protocol, bootstrap CIs, baselines).
"""


class TriageInterrupted(Exception):
    """The stop flag given to `score_family` was set: scoring ended early and wrote nothing."""


def check_stop(stop) -> None:
    """Raise TriageInterrupted if `stop` (a threading.Event, or None) is set.

    Called between issues and between training steps, so a daemon asked to stop (SIGTERM) ends
    a triage within about one issue's work (docs/deploy.md).
    """
    if stop is not None and stop.is_set():
        raise TriageInterrupted("stopped before the scores were written (gfi_candidates unchanged)")
