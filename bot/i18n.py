"""The words Steward itself writes, in the member's language: one TOML catalogue per language
in ``bot/locales`` (``key = "text with {placeholders}"``), English the fallback.

Only Steward's own framing is translated. Quotes are the documents' words and stay verbatim;
nothing here ever touches them.
"""

from __future__ import annotations

import functools
import os
import re
import string
import tomllib
from collections.abc import Mapping
from importlib import resources

from corpus.language import detect_language, language_label

LANGUAGES = ("en", "es")
DEFAULT = "en"


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    """Every string of ``lang``'s catalogue by dotted key (``answer.footer``): ``<lang>.toml``
    and the feature files in ``<lang>/`` (``es/sync.toml``), merged; a key in two files is a bug."""
    locales = resources.files("bot").joinpath("locales")
    texts = [locales.joinpath(f"{lang}.toml").read_text(encoding="utf-8")]
    folder = locales.joinpath(lang)
    if folder.is_dir():
        texts += [f.read_text(encoding="utf-8")
                  for f in sorted(folder.iterdir(), key=lambda f: f.name) if f.name.endswith(".toml")]
    flat: dict[str, str] = {}

    def walk(table: Mapping[str, object], prefix: str) -> None:
        for name, value in table.items():
            if isinstance(value, Mapping):
                walk(value, f"{prefix}{name}.")
            elif f"{prefix}{name}" in flat:
                raise KeyError(f"{lang}: the key {prefix}{name} is in two catalogue files")
            else:
                flat[f"{prefix}{name}"] = str(value)

    for text in texts:
        walk(tomllib.loads(text), "")
    return flat


def translate(key: str, lang: str | None = DEFAULT, /, **values: object) -> str:
    """The text of ``key`` in ``lang`` (English when that language lacks it), with
    ``values`` filled into its ``{placeholders}``. An unknown key is a bug: KeyError."""
    lang = lang if lang in LANGUAGES else DEFAULT
    text = catalogue(lang).get(key)
    if text is None:
        text = catalogue(DEFAULT)[key]
    return text.format(**values) if values else text


t = translate


def quoted_in(language: str | None, lang: str | None) -> str | None:
    """"quoted in English" for a quote in ``language`` shown in a ``lang`` reply; None when
    they are the same or the quote's language is unknown (the quote itself is never
    translated, so the member is told what language it is in)."""
    lang = lang if lang in LANGUAGES else DEFAULT
    if not language or language == lang:
        return None
    key = f"languages.{language}"
    name = translate(key, lang) if key in catalogue(DEFAULT) else language_label(language)
    return translate("answer.quoted_in", lang, language=name)


def placeholders(text: str) -> set[str]:
    """The ``{names}`` a catalogue string expects."""
    return {field for _lit, field, _spec, _conv in string.Formatter().parse(text) if field}


def from_locale(locale: object) -> str | None:
    """The language of a Discord locale (``es-ES``, ``es-419`` → ``es``) or a POSIX one
    (``es_MX.UTF-8`` → ``es``); None when Steward has no catalogue for it."""
    if locale is None:
        return None
    value = str(getattr(locale, "value", locale)).strip().lower()
    lang = re.split(r"[-_.@]", value, maxsplit=1)[0]
    return lang if lang in LANGUAGES else None


def from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The reply language the shell asks for: the first of ``LC_ALL``, ``LC_MESSAGES``,
    ``LANG`` that is set (POSIX's order), when Steward speaks it; else English."""
    environ = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name)
        if value:
            return from_locale(value) or DEFAULT
    return DEFAULT


# -- which language a question is in ---------------------------------------------------------
# py3langid (corpus.language) when it is confident; most chat questions are too short for
# that (on the dev set's 309 questions it leaves 92 undecided), so then a small stop-word
# vote, which is all a choice between English and Spanish needs. Words common to both
# languages ("no", "a", "me", "he") are in neither list.


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SPANISH = _words("""
de la que el en los las del se por un una para con es su al lo como más mas pero sus le ya
este esta estos estas ese esa eso esto sí porque entre cuando muy sin sobre también hasta hay
donde dónde quien quién quienes desde todo todos nos durante uno unos les ni contra otros otra
otro ante ellos ellas qué cuál cuáles cómo cuánto cuánta cuántos cuántas cuándo algo nada
mucho muchos poco puedo puede podemos pueden tengo tiene tenemos tienen hacer hago hace
debo debe deben derecho derechos trabajo trabajadores trabajadora sindicato sindical
huelga salario despido empresa patrón son fue era ser está están y o e u mi mis nuestro
nuestra nuestros tu tus después antes cada
""")
_ENGLISH = _words("""
the of and to in is that for it as was with be by on not this are or his from at which but
have has had an they you were her she there been one all we can do does did if will what
when who whom how would their my our your about should could why where much many after
before union workers right rights get got any some i am its into than then them these
those work job pay strike boss wage wages
""")
_WORD = re.compile(r"[a-záéíóúüñ]+")


def detect(text: str) -> str | None:
    """The language to answer a question in: ``es`` or ``en``, or None when the question
    does not say (too short, or in a language Steward has no catalogue for)."""
    found = detect_language(text)
    if found is not None:
        return found if found in LANGUAGES else None
    return stop_word_vote(text)


def stop_word_vote(text: str) -> str | None:
    """``es`` or ``en`` by counting each language's common words, or None on a tie."""
    lowered = text.lower()
    words = _WORD.findall(lowered)
    spanish = sum(w in _SPANISH for w in words)
    english = sum(w in _ENGLISH for w in words)
    # Inverted marks and ñ are Spanish whatever the words; accents nearly always are.
    if "¿" in lowered or "¡" in lowered or "ñ" in lowered:
        spanish += 2
    spanish += min(len(re.findall(r"[áéíóú]", lowered)), 2)
    if spanish > english:
        return "es"
    if english > spanish:
        return "en"
    return None
