"""`make messages`: the template `locale/messages.pot` from the code and templates, and both
languages' `.po` files brought in line with it (new keys with an empty msgstr to fill in, keys no
longer used dropped). tests/test_i18n.py checks the catalogues with the same functions.

A message is in the template when the sources use it:
- found by `pybabel extract` (babel.cfg; keywords below): `_('hazards.title')` and
  `_n('hazards.count', n)` in templates, `t("app.name")` and `t.plural(...)` in Python;
- or built by the code, `f"errors.{code}"` or `'categories.' ~ c`: the key lies under a prefix the
  sources spell as a literal ending in a dot, or begin an f-string with (such keys can't be
  extracted, so they are added to the `.po` files by hand and kept while their family is used);
- or named as a string literal in a table of keys (the navigation's destinations).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po, write_po

from backend.i18n import DOMAIN, LOCALE_DIR, LOCALES, po_path

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "babel.cfg"
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
# `_n('hazards.count', n)` and `t.plural('hazards.count', n)`: the key is both msgid and
# msgid_plural, so a count's message is one plural entry (msgstr[0] ... msgstr[nplurals-1]).
KEYWORDS = ("_", "t", "zh", "en", "_n:1,1", "plural:1,1")
SOURCES = (("backend", "*.py"), ("pwa/templates", "*"))
HEADER = """\
# GridSafe's messages{language}.
# A message's id is its key (hazards.title); the text is a Python str.format pattern whose {{name}}
# placeholders stay as they are. `make messages` updates this file from the code and templates."""
LANGUAGE_NAMES = {"zh": " in Chinese", "en": " in English"}

_LITERAL = re.compile(r"""["']([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*\.?)["']""")
_FSTRING = re.compile(r"""\bf["']([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*\.)\{""")


def key_of(message: Message) -> str:
    return message.id if isinstance(message.id, str) else str(message.id[0])


def extract(output: Path) -> Catalog:
    """`pybabel extract` over the code and templates, as `make messages` runs it."""
    keywords = [f"--keyword={keyword}" for keyword in KEYWORDS]
    pybabel = [sys.executable, "-m", "babel.messages.frontend", "--quiet"]
    options = ["--mapping-file", str(MAPPING), "--no-default-keywords", *keywords]
    output_options = ["--add-location=file", "--sort-output", "--output-file", str(output)]
    command = [*pybabel, "extract", *options, *output_options, "."]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)  # noqa: S603 (our own argv)
    # The keys the code builds, f"errors.{code}", are meant to be skipped: don't list them all.
    for line in done.stderr.splitlines():
        if "Skipping f-string with substitutions" not in line:
            print(line, file=sys.stderr)
    done.check_returncode()
    return read(output)


def read(path: Path) -> Catalog:
    with path.open("rb") as source:
        return read_po(source)


class Sources:
    """What the code and templates spell as string literals: whole keys, and key prefixes
    (`'errors.' ~ code`, `f"errors.{code}"`) whose messages the code builds at run time."""

    def __init__(self, root: Path = ROOT) -> None:
        self.literals: set[str] = set()
        self.prefixes: set[str] = set()
        for folder, pattern in SOURCES:
            for path in sorted((root / folder).rglob(pattern)):
                if not path.is_file() or LOCALE_DIR.parent in path.parents:
                    continue
                text = path.read_text(encoding="utf-8")
                for literal in _LITERAL.findall(text):
                    (self.prefixes if literal.endswith(".") else self.literals).add(literal)
                self.prefixes.update(_FSTRING.findall(text))

    def use(self, key: str) -> bool:
        return key in self.literals or any(key.startswith(prefix) for prefix in self.prefixes)


def template(extracted: Catalog, known: Iterable[Catalog], sources: Sources) -> Catalog:
    """The messages.pot: what extraction found, and the keys of the current catalogues that the
    sources still use without extraction seeing them (built at run time, named in a table)."""
    result = Catalog(project="GridSafe", header_comment=HEADER.format(language=""), fuzzy=False)
    for message in extracted:
        if message.id:
            files = dict.fromkeys(filename for filename, _ in message.locations)
            # By file, without line numbers: the catalogues change when messages do, not lines.
            result.add(message.id, locations=[(filename, 0) for filename in files])
    for catalogue in known:
        for message in catalogue:
            key = key_of(message)
            if message.id and key not in result and sources.use(key):
                result.add(message.id)
    return result


def dump(catalog: Catalog) -> bytes:
    out = BytesIO()
    write_po(out, catalog, width=0, include_lineno=False, sort_output=True, ignore_obsolete=True)
    return out.getvalue()


def _entries(catalog: Catalog) -> dict[str, tuple[object, ...]]:
    """A catalogue's content without its header dates, to tell whether anything changed."""
    return {
        key_of(message): (
            message.id,
            _forms(message),
            sorted({name for name, _ in message.locations}),
        )
        for message in catalog
        if message.id
    }


def update() -> None:
    """Extract, write the template if its messages changed, update both `.po` files from it."""
    with tempfile.TemporaryDirectory() as scratch:
        extracted = extract(Path(scratch) / "extracted.pot")
    current = read(TEMPLATE) if TEMPLATE.exists() else Catalog()
    translated = {locale: read(po_path(locale)) for locale in LOCALES}
    new = template(extracted, [current, *translated.values()], Sources())
    if _entries(new) != _entries(current):
        TEMPLATE.write_bytes(dump(new))
        print(f"wrote {TEMPLATE.relative_to(ROOT)}: {len(new)} messages")
    else:
        new = current
    for locale, catalog in translated.items():
        before = _entries(catalog)
        catalog.update(new, no_fuzzy_matching=True)
        catalog.header_comment = HEADER.format(language=LANGUAGE_NAMES[locale])
        if _entries(catalog) != before:
            po_path(locale).write_bytes(dump(catalog))
            missing = [key_of(m) for m in catalog if m.id and not all(_forms(m))]
            print(f"updated {po_path(locale).relative_to(ROOT)}: {len(missing)} to translate")
            for key in missing:
                print(f"  {key}")


def _forms(message: Message) -> tuple[str, ...]:
    string = message.string
    return tuple(string) if isinstance(string, (list, tuple)) else (string or "",)


if __name__ == "__main__":
    update()
