"""Comma lists and named choices from the command line or a settings file: one parser, one did-you-mean."""
from __future__ import annotations

import difflib

from .errors import MobiledeployError


def did_you_mean(value: str, choices) -> str:
    """' (did you mean X?)' when one choice is close to `value`, else ''."""
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def choose(value: str, choices, what: str, option: str = "") -> str:
    """`value` (case-folded) when it is one of `choices`, else one line naming them."""
    item = str(value).strip().lower()
    if item in choices:
        return item
    where = f"{option}: " if option else ""
    raise MobiledeployError(f"{where}unknown {what} {str(value)[:60]!r}{did_you_mean(item, choices)}: choose from "
                            f"{', '.join(choices)}")


def items(text: str, option: str, example: str) -> list[str]:
    """The non-empty items of a comma list; an empty list is one line with an example."""
    found = [i.strip() for i in str(text or "").split(",") if i.strip()]
    if not found:
        raise MobiledeployError(f"{option} is empty: give a comma list, e.g. {option} {example}")
    return found


def choice_list(text: str, choices, what: str, option: str, example: str | None = None) -> list[str]:
    """A comma list of named choices, in the order given, duplicates dropped."""
    values = [choose(i, choices, what, option) for i in items(text, option, example or ",".join(choices[:2]))]
    return list(dict.fromkeys(values))


def checked_list(text: str, option: str, example: str, check) -> list:
    """A comma list checked item by item with `check`; duplicates dropped, sorted."""
    values = []
    for item in items(text, option, example):
        try:
            values.append(check(item))
        except MobiledeployError as exc:
            raise MobiledeployError(f"{option}: {exc}") from None
    return sorted(set(values))
