"""The ``--max-cost USD`` option's type, shared by ``%%train``, ``%deploy``, ``%batch_predict``
and their ``jsml`` commands: a positive, finite amount, refused before anything is sent."""

from __future__ import annotations

import argparse
import math


def usd_amount(text: str) -> float:
    """``"0.25"`` -> 0.25; zero, negative, ``nan``, ``inf`` or not a number is an argparse
    error that says what to write."""
    try:
        amount = float(text)
    except ValueError:
        amount = math.nan
    if not math.isfinite(amount) or amount <= 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a budget; give a positive amount in USD, e.g. --max-cost 5 "
            "or --max-cost 0.25"
        )
    return amount


__all__ = ["usd_amount"]
