"""The gettext catalogues: both languages translate every message the code and templates use,
the template is up to date with the sources, the .po files compile; and language negotiation."""

from __future__ import annotations

import os
import re
import string
from gettext import GNUTranslations
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from litestar.testing import TestClient
from sqlalchemy import select
from sqlmodel import Session

from backend.errors import ERRORS
from backend.i18n import LOCALES, Translator, compile_po, negotiate, po_path, translations
from backend.i18n.messages import TEMPLATE, Sources, extract, key_of, read, template
from backend.models import User
from tests.conftest import post_form, sign_in

ROOT = Path(__file__).resolve().parent.parent
# Plural-Forms: Chinese words every count alike, English says "1 hazard", "2 hazards".
NPLURALS = {"zh": 1, "en": 2}
HAN = re.compile(r"[\u4e00-\u9fff]")


def forms(message: Message) -> tuple[str, ...]:
    text = message.string
    return tuple(text) if isinstance(text, (list, tuple)) else (text or "",)


def entries(catalog: Catalog) -> dict[str, Message]:
    return {key_of(message): message for message in catalog if message.id}


@pytest.fixture(scope="module")
def pot() -> dict[str, Message]:
    return entries(read(TEMPLATE))


@pytest.fixture(scope="module")
def po() -> dict[str, dict[str, Message]]:
    return {locale: entries(read(po_path(locale))) for locale in LOCALES}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_the_template_is_up_to_date_with_the_code_and_templates(
    tmp_path: Path, pot: dict[str, Message]
) -> None:
    """What `make messages` would write: every key extraction finds, and no key the sources no
    longer use. A key added to the code without `make messages` (and its translations) fails."""
    extracted = extract(tmp_path / "extracted.pot")
    assert len(extracted) > 500, "extraction found (almost) nothing: babel.cfg or keywords broken"
    known = [read(TEMPLATE), *(read(po_path(locale)) for locale in LOCALES)]
    wanted = entries(template(extracted, known, Sources()))
    assert sorted(set(wanted) - set(pot)) == [], "used but not in messages.pot: run make messages"
    assert sorted(set(pot) - set(wanted)) == [], "in messages.pot but unused: run make messages"
    plural = {key for key, message in wanted.items() if message.pluralizable}
    assert plural == {key for key, message in pot.items() if message.pluralizable}
    assert "hazards.count" in plural, "no plural entry found: the check would pass vacuously"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated(
    locale: str, pot: dict[str, Message], po: dict[str, dict[str, Message]]
) -> None:
    catalogue = po[locale]
    assert sorted(set(pot) - set(catalogue)) == [], "not in the .po: run make messages"
    assert sorted(set(catalogue) - set(pot)) == [], "not in messages.pot: run make messages"
    untranslated = [
        key for key, message in catalogue.items() if not all(map(str.strip, forms(message)))
    ]
    assert untranslated == []
    assert [key for key, message in catalogue.items() if message.fuzzy] == []
    for key, message in catalogue.items():
        assert message.pluralizable == pot[key].pluralizable, key
        if message.pluralizable:
            assert len(forms(message)) == NPLURALS[locale], key


@pytest.mark.parametrize("locale", LOCALES)
def test_the_catalogues_compile_with_their_plural_forms(locale: str) -> None:
    catalog = read(po_path(locale))
    assert catalog.num_plurals == NPLURALS[locale]
    assert [(key_of(message), errors) for message, errors in catalog.check()] == []
    compiled = GNUTranslations(BytesIO(compile_po(po_path(locale))))
    assert compiled.ngettext("hazards.count", "hazards.count", 1) != "hazards.count"


def test_messages_take_the_same_placeholders_in_both_languages(
    po: dict[str, dict[str, Message]],
) -> None:
    wrong = []
    for key, zh in po["zh"].items():
        texts = [*forms(zh), *forms(po["en"][key])]
        if len({frozenset(placeholders(text)) for text in texts}) != 1:
            wrong.append(key)
    assert wrong == []


@pytest.mark.parametrize(
    ("locale", "n", "expected"),
    [
        ("en", 0, "0 hazards"),
        ("en", 1, "1 hazard"),
        ("en", 2, "2 hazards"),
        ("zh", 1, "共 1 条隐患"),
        ("zh", 2, "共 2 条隐患"),
    ],
)
def test_a_count_is_worded_in_its_plural_form(locale: str, n: int, expected: str) -> None:
    assert Translator(locale).plural("hazards.count", n) == expected


def test_a_plural_takes_more_placeholders_and_a_missing_one_shows_its_key() -> None:
    assert Translator("en").plural("loop.offered_to", 1) == "Offered to 1 person"
    assert Translator("en").plural("no.such.family", 3) == "no.such.family"


def test_a_message_takes_its_parameters_and_a_missing_key_shows_itself() -> None:
    english = Translator("en")
    assert english("home.greeting", name="Li") == "Hello, Li"
    assert english("no.such.key") == "no.such.key"
    assert english.has("home.greeting")
    assert not english.has("no.such.key")
    assert Translator("xx").locale == "zh"


def test_a_language_is_read_once() -> None:
    assert translations("en") is translations("en")
    assert Translator("en")._gettext.__self__ is translations("en")  # type: ignore[attr-defined]


def test_a_catalogue_edited_after_compiling_is_read_from_its_po(tmp_path: Path) -> None:
    """A .mo older than its .po (make translations not run since) does not hide the edit."""
    po = po_path("en", tmp_path)
    mo = po.with_suffix(".mo")
    po.parent.mkdir(parents=True)
    po.write_bytes(po_path("en").read_bytes())
    mo.write_bytes(compile_po(po))
    assert translations("en", tmp_path).gettext("nav.home") == "Home"
    entry = 'msgid "nav.home"\nmsgstr "Home"'
    assert entry in po.read_text()
    po.write_text(po.read_text().replace(entry, 'msgid "nav.home"\nmsgstr "Start"'))
    later = mo.stat().st_mtime + 10
    os.utime(po, (later, later))
    translations.cache_clear()
    try:
        assert translations("en", tmp_path).gettext("nav.home") == "Start"
    finally:
        translations.cache_clear()


def test_chinese_messages_are_chinese(po: dict[str, dict[str, Message]]) -> None:
    untranslated = [key for key, m in po["zh"].items() if not all(map(HAN.search, forms(m)))]
    assert untranslated == []


def test_english_messages_are_english(po: dict[str, dict[str, Message]]) -> None:
    assert [key for key, m in po["en"].items() if any(map(HAN.search, forms(m)))] == []


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_every_error_code_has_a_message(code: str, pot: dict[str, Message]) -> None:
    assert f"errors.{code}" in pot


def test_every_family_of_keys_built_at_run_time_has_messages(pot: dict[str, Message]) -> None:
    """`_('errors.' ~ code)`, `t(f"categories.{c}")`: extraction can't see these keys, so at
    least their family must exist (the error codes, above, are checked one by one)."""
    built = re.compile(
        r"""\b(?:_|t|english)\(\s*(?:['"]([a-z0-9_.]+\.)['"]\s*~|f["']([a-z0-9_.]+\.)\{)"""
    )
    families = set()
    for folder, pattern in (("backend", "*.py"), ("pwa/templates", "*")):
        for source in (ROOT / folder).rglob(pattern):
            if source.is_file():
                families |= {a or b for a, b in built.findall(source.read_text(encoding="utf-8"))}
    assert {"errors.", "categories."} <= families, "the pattern found too little"
    assert sorted(f for f in families if not any(key.startswith(f) for key in pot)) == []


def test_every_error_code_raised_in_code_exists() -> None:
    raised = set()
    for source in (ROOT / "backend").rglob("*.py"):
        raised |= set(re.findall(r'AppError\(\s*"([a-z_]+)"', source.read_text()))
    assert raised, "the pattern found nothing: the test would pass vacuously"
    assert raised <= set(ERRORS)


@pytest.mark.parametrize(
    ("cookie", "user", "header", "expected"),
    [
        (None, None, None, "zh"),
        (None, None, "en-US,en;q=0.9", "en"),
        (None, None, "fr-FR,en;q=0.5,zh;q=0.8", "zh"),
        (None, None, "en;q=0,zh-CN", "zh"),
        (None, "en", "zh-CN", "en"),
        # Signed in, the account's language wins over a cookie another person may have left.
        ("zh", "en", "en-US", "en"),
        ("en", None, "zh-CN", "en"),
        ("xx", None, "en", "en"),
        (None, None, "garbage;;;q=abc", "zh"),
    ],
)
def test_language_negotiation(
    cookie: str | None, user: str | None, header: str | None, expected: str
) -> None:
    assert negotiate(cookie, user, header, "zh") == expected


def _locale(db: Session, username: str) -> str | None:
    db.expire_all()
    return db.execute(select(User.locale).where(User.username == username)).scalar_one()


def test_the_switch_stores_the_language_on_the_signed_in_account(
    client: TestClient[Any], db: Session
) -> None:
    sign_in(client, "responder")
    assert post_form(client, "/language", {"lang": "en", "next": "/"}).status_code == 303
    assert _locale(db, "responder") == "en"
    # Another device, with no cookie of the first, gets the account's language.
    client.cookies.clear()
    sign_in(client, "responder")
    assert '<html lang="en">' in client.get("/").text
    post_form(client, "/language", {"lang": "xx", "next": "/"})
    assert _locale(db, "responder") == "en"


def test_the_switch_signed_out_only_sets_the_cookie(client: TestClient[Any], db: Session) -> None:
    response = post_form(client, "/language", {"lang": "en", "next": "/signin"})
    assert "gs_lang=en" in response.headers["set-cookie"]
    assert db.execute(select(User.locale).where(User.locale.is_not(None))).all() == []


def test_a_language_picked_before_signing_in_becomes_the_accounts_if_it_has_none(
    client: TestClient[Any], db: Session
) -> None:
    post_form(client, "/language", {"lang": "en", "next": "/signin"})
    sign_in(client, "responder")
    assert _locale(db, "responder") == "en"
    # An account that has a language keeps it: the cookie may be someone else's on this phone.
    client.cookies.clear()
    sign_in(client, "inspector")
    post_form(client, "/language", {"lang": "zh", "next": "/"})
    client.cookies.clear()
    post_form(client, "/language", {"lang": "en", "next": "/signin"})
    sign_in(client, "inspector")
    assert _locale(db, "inspector") == "zh"
    assert '<html lang="zh-CN">' in client.get("/").text
