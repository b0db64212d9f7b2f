"""``%drift``: drift checks, baselines, rules and alerts in a notebook (thin over the API).

::

    %drift churn --window 1h                  # check now: a per-feature report
    %drift baseline churn data/churn.csv      # set the model's baseline
    %drift rules churn --interval 5m --feature age=ks:0.01 --webhook https://...
    %drift alerts churn                       # the endpoint's alerts
    %drift ack 3                              # acknowledge one

Errors raise (a papermill run fails), as every magic here does.
"""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class

from .. import monitoring
from ..errors import UsageError
from ..monitoring import drift_api
from . import drift_options, magic_line


def run(line: str, prog: str = "%drift") -> Any:
    """Run one ``drift`` command line; returns what the magic shows."""
    try:
        words = magic_line.split(line)
    except ValueError as exc:
        raise UsageError(f"{prog}: {exc}") from None
    return run_words(words, prog)


def run_words(words: list[str], prog: str = "%drift") -> Any:
    """Run one ``drift`` command given as words (the CLI's)."""
    if not words:
        raise UsageError(f"write {prog} ENDPOINT [--window 1h]; see {prog} --help")
    action, args = drift_options.parse(words, prog)
    if action == "check":
        return drift_api.drift(args.target[0], args.window, backend=args.backend)
    if action == "baseline":
        model, path = args.target
        return drift_api.set_baseline(model, path, args.version, backend=args.backend)
    if action == "rules":
        changes = drift_options.rule_changes(args)
        return drift_api.drift_rules(args.target[0], backend=args.backend, **changes)
    if action == "ack":
        try:
            alert_id = int(args.target[0])
        except ValueError:
            raise UsageError(f"{prog} ack takes an alert id (a number)") from None
        return monitoring.acknowledge_alert(alert_id, backend=args.backend)
    found = monitoring.alerts(backend=args.backend)
    if args.target:
        found = [a for a in found if a.endpoint == args.target[0]]
    if args.open:
        found = [a for a in found if not a.acknowledged_at]
    return found


@magics_class
class DriftMagics(Magics):
    """The ``%drift`` magic."""

    @line_magic
    def drift(self, line: str) -> Any:
        """Drift of an endpoint's requests against its model's training baseline.

        %drift ENDPOINT [--window 1h]           check now; shows baseline vs current per
                                                feature, the statistic and the verdict
        %drift baseline MODEL DATA [--version N]
        %drift rules ENDPOINT [--interval 5m] [--window 1h] [--min-rows 30]
              [--feature NAME=TEST[:THRESHOLD]|NAME=ignore ...] [--prediction TEST[:T]]
              [--latency-p95-ms MS] [--error-rate SHARE] [--cold-start-ms MS] [--webhook URL]
        %drift alerts [ENDPOINT] [--open]
        %drift ack ALERT_ID

        Tests: ks, wasserstein, jensenshannon, psi (numeric); chi2, linf, jensenshannon,
        psi (categorical). Defaults: KS (p < 0.05) up to 1000 rows, else normalized
        Wasserstein (>= 0.1); chi-squared (p < 0.05), else L-infinity (>= 0.1).
        """
        return run(line)


__all__ = ["DriftMagics", "run", "run_words"]
