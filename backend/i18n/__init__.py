"""Message catalogues (zh, en) and locale negotiation; every user-facing string goes through here."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

LOCALES = ("zh", "en")
LOCALE_COOKIE = "gs_lang"
# CLDR plural categories. A message that depends on a count is a family of keys, one per category
# its language uses (`hazards.count.one`, `hazards.count.other`); `other` is always there. This is
# the shape gettext's msgstr[n] takes, so the families move over to .po files one for one.
PLURAL_CATEGORIES = ("zero", "one", "two", "few", "many", "other")
# The categories each language's whole numbers fall in (gettext: nplurals=1 for zh, 2 for en).
PLURAL_FORMS = {"zh": ("other",), "en": ("one", "other")}


def plural_category(locale: str, n: int) -> str:
    """The CLDR category of a whole number: English says one/other; Chinese has no plural."""
    if locale == "en" and n == 1:
        return "one"
    return "other"


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = str(value)
    return flat


@cache
def catalogue(locale: str) -> dict[str, str]:
    """All `<locale>/*.toml` files merged; each domain keeps its messages in a file of its own."""
    messages: dict[str, str] = {}
    folder = resources.files("backend.i18n").joinpath(locale)
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".toml"):
            for key, value in _flatten(tomllib.loads(entry.read_text(encoding="utf-8"))).items():
                if key in messages:
                    raise ValueError(f"message {key!r} is defined twice in the {locale} catalogue")
                messages[key] = value
    return messages


class Translator:
    """Looks messages up by stable key; a missing key shows the key itself (and a test fails)."""

    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in LOCALES else LOCALES[0]
        self._messages = catalogue(self.locale)

    def __call__(self, key: str, **params: object) -> str:
        message = self._messages.get(key, key)
        return message.format(**params) if params else message

    def plural(self, key: str, n: int, **params: object) -> str:
        """The family `key` worded for `n` ("1 hazard", "2 hazards"); `{count}` is n."""
        message = self._messages.get(f"{key}.{plural_category(self.locale, n)}")
        if message is None:
            message = self._messages.get(f"{key}.other", key)
        return message.format(**{"count": n, **params})

    def has(self, key: str) -> bool:
        return key in self._messages


def negotiate(
    cookie: str | None, user_locale: str | None, accept_language: str | None, default: str
) -> str:
    """Pick the UI language: the signed-in person's own (kept on their account by the switch),
    then the switch's cookie (the sign-in page, visitors), then the browser."""
    for choice in (user_locale, cookie):
        if choice in LOCALES:
            return choice
    for language in _parse_accept_language(accept_language or ""):
        primary = language.split("-")[0].lower()
        if primary in LOCALES:
            return primary
    return default


def _parse_accept_language(header: str) -> list[str]:
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        pieces = part.strip().split(";")
        if not pieces[0]:
            continue
        quality = 1.0
        for param in pieces[1:]:
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            weighted.append((-quality, position, pieces[0]))
    return [language for _, _, language in sorted(weighted)]
