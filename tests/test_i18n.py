"""Both languages are complete, and every key the code and templates use exists."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select
from sqlmodel import Session

from backend.errors import ERRORS
from backend.i18n import (
    LOCALES,
    PLURAL_CATEGORIES,
    PLURAL_FORMS,
    Translator,
    catalogue,
    negotiate,
)
from backend.models import User
from tests.conftest import post_form, sign_in

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_KEY = re.compile(r"""_\(\s*'([a-z0-9_.]+)'""")
PLURAL_KEY = re.compile(r"""_n\(\s*'([a-z0-9_.]+)'""")


def plural_families(locale: str) -> dict[str, dict[str, str]]:
    """A count's message family (`hazards.count` → {"one": …, "other": …}): a key whose entries
    are all plural categories. `categories.other` is not one: its siblings are categories."""
    children: dict[str, dict[str, str]] = defaultdict(dict)
    for key, value in catalogue(locale).items():
        base, _, last = key.rpartition(".")
        children[base][last] = value
    return {
        base: forms
        for base, forms in children.items()
        if base and set(forms) <= set(PLURAL_CATEGORIES) and "other" in forms
    }


def messages(locale: str) -> dict[str, str]:
    """Every message once: a plural family by its base key, as its `other` form."""
    families = plural_families(locale)
    plain = {
        key: value
        for key, value in catalogue(locale).items()
        if key.rpartition(".")[0] not in families
    }
    return {**plain, **{base: forms["other"] for base, forms in families.items()}}


def test_catalogues_have_the_same_keys_and_no_empty_message() -> None:
    zh, en = messages("zh"), messages("en")
    assert set(zh) == set(en), f"only zh: {set(zh) - set(en)}; only en: {set(en) - set(zh)}"
    assert all(value.strip() for value in (*catalogue("zh").values(), *catalogue("en").values()))


def test_plural_families_have_exactly_their_languages_forms() -> None:
    for locale in LOCALES:
        families = plural_families(locale)
        assert "hazards.count" in families, "no family found: the test would pass vacuously"
        wrong = {base: set(forms) for base, forms in families.items()}
        wrong = {base: forms for base, forms in wrong.items() if forms != set(PLURAL_FORMS[locale])}
        assert wrong == {}, locale
    assert set(plural_families("zh")) == set(plural_families("en"))


def test_messages_take_the_same_placeholders_in_both_languages() -> None:
    zh, en = catalogue("zh"), catalogue("en")
    placeholder = re.compile(r"\{(\w+)\}")
    for key in messages("zh"):
        zh_forms = [zh[k] for k in (key, f"{key}.other") if k in zh]
        en_forms = [en[k] for k in (key, *(f"{key}.{c}" for c in PLURAL_CATEGORIES)) if k in en]
        wanted = set(placeholder.findall(zh_forms[0]))
        assert all(set(placeholder.findall(form)) == wanted for form in en_forms), key


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


def test_a_plural_takes_more_placeholders_and_a_missing_family_shows_its_key() -> None:
    assert Translator("en").plural("loop.offered_to", 1) == "Offered to 1 person"
    assert Translator("en").plural("no.such.family", 3) == "no.such.family"


def test_chinese_messages_are_chinese() -> None:
    zh = catalogue("zh")
    han = re.compile(r"[\u4e00-\u9fff]")
    untranslated = [key for key, value in zh.items() if not han.search(value)]
    assert untranslated == []


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_every_error_code_has_a_message(code: str) -> None:
    for locale in LOCALES:
        assert f"errors.{code}" in catalogue(locale)


def test_every_template_key_exists() -> None:
    keys = catalogue("en")
    missing = []
    for template in (ROOT / "pwa" / "templates").rglob("*"):
        if template.is_file():
            text = template.read_text()
            # `_n('hazards.count', n)`: a count's family, which always has its `other` form.
            for key in PLURAL_KEY.findall(text):
                if f"{key}.other" not in keys or f"{key}.other" not in catalogue("zh"):
                    missing.append(f"{template.name}: {key} (plural)")
            for key in TEMPLATE_KEY.findall(text):
                # 'errors.' ~ code: a dynamic key; at least its family must exist.
                found = any(k.startswith(key) for k in keys) if key.endswith(".") else key in keys
                if not found:
                    missing.append(f"{template.name}: {key}")
    assert missing == []


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


def test_english_messages_are_english() -> None:
    han = re.compile(r"[\u4e00-\u9fff]")
    assert [key for key, value in catalogue("en").items() if han.search(value)] == []
