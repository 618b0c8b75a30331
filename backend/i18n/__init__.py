"""Message catalogues (zh, en) and locale negotiation; every user-facing string goes through here.

The catalogues are gettext's: `locale/messages.pot` is the template (`make messages` extracts it
from the code and templates), `locale/<lang>/LC_MESSAGES/messages.po` the translations, compiled
to `.mo` by `make translations` (part of `make setup`). A message's id is its stable key
(`hazards.title`), its text a `str.format` pattern (`"Hello, {name}"`); a message that depends
on a count has a plural entry (msgid_plural, msgstr[n]) worded by the language's Plural-Forms:
Chinese has one form, English two ("1 hazard", "2 hazards").
"""

from __future__ import annotations

import gettext
import logging
from functools import cache
from io import BytesIO
from pathlib import Path

LOCALES = ("zh", "en")
LOCALE_COOKIE = "gs_lang"
DOMAIN = "messages"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

log = logging.getLogger(__name__)


def po_path(locale: str, folder: Path = LOCALE_DIR) -> Path:
    return folder / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(locale: str, folder: Path = LOCALE_DIR) -> gettext.GNUTranslations:
    """A language's compiled catalogue, read once per process. A `.mo` missing or older than its
    `.po` (a translation edited since `make translations`) is compiled from the `.po` here, in
    memory, so what runs is always what the `.po` says."""
    po = po_path(locale, folder)
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as compiled:
            return gettext.GNUTranslations(compiled)
    log.warning(
        "%s is missing or older than its .po: compiling it in memory (make translations)", mo
    )
    return gettext.GNUTranslations(BytesIO(compile_po(po)))


def compile_po(po: Path) -> bytes:
    """The `.mo` bytes of a `.po` file (what `pybabel compile` writes)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as source:
        catalog = read_po(source)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    return compiled.getvalue()


class Translator:
    """Looks messages up by stable key; a missing key shows the key itself (and a test fails)."""

    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in LOCALES else LOCALES[0]
        catalogue = translations(self.locale)
        self._gettext = catalogue.gettext
        self._ngettext = catalogue.ngettext

    def __call__(self, key: str, **params: object) -> str:
        message = self._gettext(key)
        return message.format(**params) if params else message

    def plural(self, key: str, n: int, **params: object) -> str:
        """The plural entry `key` worded for `n` ("1 hazard", "2 hazards"); `{count}` is n."""
        return self._ngettext(key, key, n).format(**{"count": n, **params})

    def has(self, key: str) -> bool:
        # gettext answers an unknown id with the id itself; no message's text is its own key.
        return self._gettext(key) != key


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
