"""What a refresh run came to, and its exit code: the one place a scheduler's codes are defined.

A scheduler (cron, a systemd timer, Airflow) reads only the exit code: 0 nothing to do, 3 models
were retrained (a success worth a line in a report), 4 a person should look (a rule asked for an
alert, or a retrain the rules asked for did not happen). 2 stays what every memberscore command
means by it: bad input, nothing done. An alert outranks a retrain: both happened, and the alert
is what needs someone.
"""

from __future__ import annotations

from typing import Final, Literal

Outcome = Literal["ok", "retrained", "alert"]
EXIT_OK: Final = 0
EXIT_BAD_INPUT: Final = 2
EXIT_RETRAINED: Final = 3
EXIT_ALERT: Final = 4
EXIT_CODES: Final[dict[Outcome, int]] = {"ok": EXIT_OK, "retrained": EXIT_RETRAINED, "alert": EXIT_ALERT}


def outcome_of(retrained: bool, alert: bool) -> Outcome:
    """``alert`` when anything asks for a person, else ``retrained`` when a model was retrained, else ``ok``."""
    if alert:
        return "alert"
    return "retrained" if retrained else "ok"


def exit_code(outcome: Outcome) -> int:
    return EXIT_CODES[outcome]
