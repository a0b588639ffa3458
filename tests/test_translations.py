"""Translations as one document family (issue 13): a bulletin in English and Spanish is two
documents that know each other, however the link is stated and whichever arrives first; the
asker's language is quoted when it answers, and a reply says when no such version exists."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from stewardtest import CONFIG, HashEncoder, make_steward

import bot.app
from bot.cli import main
from bot.translations import comparable, prefer_asker_language
from corpus.store import Filters
from corpus.translations import Links, linked, path_language

EN_BODY = "\n".join((
    "# Filing a grievance at the warehouse", "",
    "A grievance must be filed in writing within 10 working days of the incident. Give the "
    "written form to your steward, who keeps a copy and sends it to the site manager.", "",
    "The union meets every second Tuesday at the community hall on Pine Street. Members bring "
    "their own food and the children's corner is open.", ""))
ES_BODY = "\n".join((
    "# Cómo presentar una queja en el almacén", "",
    "La queja debe presentarse por escrito dentro de los 10 días hábiles siguientes al "
    "incidente. Entregue el formulario escrito a su delegado, quien guarda una copia y lo envía "
    "al gerente del centro.", "",
    "El sindicato se reúne cada segundo martes en el salón comunitario de la calle Pine. Los "
    "miembros traen su propia comida y el rincón de los niños está abierto.", ""))
EN_QUOTE = "A grievance must be filed in writing within 10 working days of the incident."
ES_QUOTE = "La queja debe presentarse por escrito dentro de los 10 días hábiles siguientes al incidente."
EN_QUESTION = "How many days do we have to file a grievance?"
ES_QUESTION = "¿Cuántos días tenemos para presentar una queja por escrito?"
NO_VERSION = "citado en inglés; no hay versión en español en los boletines"


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def front(**fields: str) -> str:
    return "---\n" + "".join(f"{k}: {v}\n" for k, v in fields.items()) + "---\n"


def run(args: list[str], data: Path) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--config", str(CONFIG), "--data-dir", str(data), "-q", *args], out=out)
    return code, out.getvalue()


def flat(text: str) -> str:
    return " ".join(text.split())


def family_of(data: Path) -> dict[str, list[str]]:
    """doc id -> the doc ids `sources --json` lists as its translations."""
    code, out = run(["sources", "--json"], data)
    assert code == 0
    return {d["doc_id"]: [t["doc_id"] for t in d["translations"]] for d in json.loads(out)}


@pytest.fixture(autouse=True)
def english_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)


@pytest.fixture
def hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Links need no real model: the CLI ingests with the fast hashing encoder."""
    monkeypatch.setattr(bot.app, "load_encoder", lambda *_a, **_k: HashEncoder())


@pytest.fixture
def real_model(monkeypatch: pytest.MonkeyPatch, real_encoder: object) -> None:
    monkeypatch.setattr(bot.app, "load_encoder", lambda *_a, **_k: real_encoder)


# -- how a family is stated ----------------------------------------------------------------------


def test_es_paths_pair_pages_of_one_site_in_two_languages() -> None:
    en = Links("a", url="https://union.example/news/strike/", language="en")
    es = Links("b", url="http://union.example/es/news/strike", language="es")
    assert path_language(es.url) == ("es", "union.example/news/strike")
    assert linked(en, es) and linked(es, en)
    # Another page, another site, a segment that is no language, one language twice: no pair.
    assert not linked(en, Links("c", url="https://union.example/es/news/strike-vote/", language="es"))
    assert not linked(en, Links("d", url="https://other.example/es/news/strike/", language="es"))
    assert not linked(en, Links("e", url="https://union.example/us/news/strike/", language="es"))
    assert not linked(en, Links("f", url="https://union.example/en/news/strike/", language="en"))


def test_hreflang_named_by_one_page_only_links_both_whichever_comes_first(tmp_path: Path, hashing: None) -> None:
    docs = tmp_path / "docs"
    # The Spanish page names nothing; only the English one lists its Spanish version.
    write(docs, "es.html", "<html lang='es'><head><title>Huelga</title>"
          "<link rel='canonical' href='https://union.example/es/boletin/huelga/'></head>"
          f"<body><main><p>{ES_QUOTE}</p></main></body></html>")
    write(docs, "en.html", "<html lang='en'><head><title>Strike</title>"
          "<link rel='canonical' href='https://union.example/bulletin/strike/'>"
          "<link rel='alternate' hreflang='en' href='https://union.example/bulletin/strike/'>"
          "<link rel='alternate' hreflang='es' href='/es/boletin/huelga'>"
          f"</head><body><main><p>{EN_QUOTE}</p></main></body></html>")
    data = tmp_path / "data"
    assert run(["ingest", str(docs / "es.html")], data)[0] == 0  # the Spanish page first
    assert run(["ingest", str(docs / "en.html")], data)[0] == 0
    families = family_of(data)
    assert len(families) == 2
    (en_id,) = [d for d in families if d.startswith("en-")]
    (es_id,) = [d for d in families if d.startswith("es-")]
    assert families == {en_id: [es_id], es_id: [en_id]}
    _code, out = run(["sources"], data)
    assert f"also in: Spanish — Huelga [{es_id}]" in out and f"also in: English — Strike [{en_id}]" in out


def test_es_path_pair_without_any_link(tmp_path: Path, hashing: None) -> None:
    docs = tmp_path / "docs"
    write(docs, "en.html", "<html lang='en'><head><title>Strike</title>"
          "<link rel='canonical' href='https://union.example/news/strike/'></head>"
          f"<body><main><p>{EN_QUOTE}</p></main></body></html>")
    write(docs, "es.html", "<html lang='es'><head><title>Huelga</title>"
          "<link rel='canonical' href='https://union.example/es/news/strike/'></head>"
          f"<body><main><p>{ES_QUOTE}</p></main></body></html>")
    write(docs, "other.html", "<html lang='es'><head><title>Otra</title>"
          "<link rel='canonical' href='https://union.example/es/news/other/'></head>"
          f"<body><main><p>{ES_QUOTE} Otra página.</p></main></body></html>")
    data = tmp_path / "data"
    assert run(["ingest", str(docs)], data)[0] == 0
    families = family_of(data)
    by_title = {d.split("-")[0]: d for d in families}
    assert families[by_title["en"]] == [by_title["es"]]
    assert families[by_title["es"]] == [by_title["en"]]
    assert families[by_title["other"]] == []


def test_front_matter_sidecar_and_option_each_link_a_translation(tmp_path: Path, hashing: None) -> None:
    docs, data = tmp_path / "docs", tmp_path / "data"
    write(docs, "en.md", front(id="grievance-en", title="Filing a grievance") + EN_BODY)
    write(docs, "fm.md", front(title="Queja (front matter)", translation_of="grievance-en") + ES_BODY)
    write(docs, "car.md", ES_BODY.replace("# Cómo", "# Sidecar: cómo"))
    write(docs, "car.meta.toml", 'translation_of = "grievance-en"\n')
    write(docs, "opt.md", ES_BODY.replace("# Cómo", "# Opción: cómo"))
    # The translations arrive before the English original, which names none of them.
    assert run(["ingest", str(docs / "fm.md"), str(docs / "car.md")], data)[0] == 0
    assert run(["ingest", str(docs / "opt.md"), "--translation-of", "grievance-en"], data)[0] == 0
    assert family_of(data) == {d: [] for d in family_of(data)}  # nothing to link with yet
    assert run(["ingest", str(docs / "en.md")], data)[0] == 0
    families = family_of(data)
    spanish = [d for d in families if d != "grievance-en"]
    assert len(spanish) == 3
    for doc_id in spanish:  # each Spanish version knows the original...
        assert families[doc_id] == ["grievance-en"]
    # ...and the original lists one version per language
    assert len(families["grievance-en"]) == 1 and families["grievance-en"][0] in spanish

    # A typo in the sidecar's field is one clear line, and nothing stored is touched.
    write(docs, "car.meta.toml", 'translation-of = "grievance-en"\n')
    code, _ = run(["ingest", str(docs / "car.md")], data)
    assert code == 1 and family_of(data) == families


# -- quoting the asker's language ----------------------------------------------------------------


@pytest.fixture
def pair(tmp_path: Path, real_model: None) -> Path:
    docs, data = tmp_path / "docs", tmp_path / "data"
    write(docs, "en.md", front(id="grievance-en", title="Filing a grievance at the warehouse") + EN_BODY)
    write(docs, "es.md", front(id="grievance-es", title="Cómo presentar una queja",
                               translation_of="grievance-en") + ES_BODY)
    assert run(["ingest", str(docs)], data)[0] == 0
    return data


def test_each_asker_gets_their_own_languages_version(pair: Path) -> None:
    code, out = run(["ask", ES_QUESTION, "--lang", "es"], pair)
    assert code == 0 and ES_QUOTE in flat(out) and EN_QUOTE not in flat(out)
    assert "Cómo presentar una queja" in out and "citado en" not in out

    code, out = run(["ask", EN_QUESTION, "--lang", "en"], pair)
    assert code == 0 and EN_QUOTE in flat(out) and ES_QUOTE not in flat(out)
    assert "Filing a grievance at the warehouse" in out and "quoted in" not in out

    # Never two versions of one bulletin in one answer.
    for question in (ES_QUESTION, EN_QUESTION):
        code, out = run(["ask", question, "--json"], pair)
        cited = {q["doc_id"] for q in json.loads(out)["quotes"]}
        assert cited and cited <= {"grievance-en", "grievance-es"} and len(cited) == 1


def test_an_english_quote_for_a_spanish_asker_is_replaced_by_its_spanish_version(pair: Path) -> None:
    steward = make_steward(pair, HashEncoder())  # the store only; the answerer is swapped below
    steward.close()
    steward = make_steward(pair)
    try:
        answerer = steward.answerer
        en_vec = answerer.searcher.encode_query(EN_QUESTION)
        hits = answerer.searcher.search(EN_QUESTION, limit=1, filters=Filters(doc_id="grievance-en"),
                                        query_vector=en_vec)
        english = [q for _o, q in answerer._quotes(EN_QUESTION, en_vec, hits, "en")]
        assert english[0].doc_id == "grievance-en"
        es_vec = answerer.searcher.encode_query(ES_QUESTION)
        chosen = prefer_asker_language(answerer, ES_QUESTION, es_vec, "es", english)
        assert [q.doc_id for q in chosen] == ["grievance-es"]
        assert ES_QUOTE in chosen[0].text and chosen[0].versions == ("en", "es")
        stored = steward.store.document("grievance-es")
        assert stored is not None and chosen[0].text in stored.text  # verbatim
        # With the passage filter on English, the English quote stays (and says a version exists).
        kept = prefer_asker_language(answerer, ES_QUESTION, es_vec, "es", english, Filters(language="en"))
        assert [q.doc_id for q in kept] == ["grievance-en"]
    finally:
        steward.close()


def test_comparable_is_a_small_loss_at_most() -> None:
    assert comparable(0.60, 0.58) and comparable(0.55, 0.58)
    assert not comparable(0.50, 0.58)


def test_a_spanish_asker_is_told_when_no_spanish_version_exists(tmp_path: Path, sample_data_dir: Path,
                                                                 real_model: None) -> None:
    code, out = run(["ask", "How much did US union membership grow after 1935?", "--lang", "es"],
                    sample_data_dir)
    assert code == 0 and "Fuentes:" in out
    assert "from three million union members in 1935 to six million in 1940" in flat(out)
    assert f"({NO_VERSION})" in flat(out)
    code, out = run(["--lang", "en", "ask", "¿Cuánto creció la afiliación sindical en Estados Unidos "
                     "después de 1935?"], sample_data_dir)
    # English reply to a Spanish question quoted from English: no note at all.
    assert "quoted in" not in out


def test_removing_one_version_leaves_the_other_answering_alone(pair: Path) -> None:
    code, out = run(["ask", EN_QUESTION, "--lang", "es"], pair)
    # An English question is quoted in English; a Spanish version exists, so no "no version".
    assert EN_QUOTE in flat(out) and "(citado en inglés)" in out and "no hay versión" not in out

    assert run(["remove", "grievance-es"], pair)[0] == 0
    assert family_of(pair) == {"grievance-en": []}
    code, out = run(["sources"], pair)
    assert "also in" not in out
    code, out = run(["ask", EN_QUESTION, "--lang", "es"], pair)
    assert code == 0 and EN_QUOTE in flat(out) and f"({NO_VERSION})" in flat(out)
    code, out = run(["ask", EN_QUESTION], pair)
    assert EN_QUOTE in flat(out) and "quoted in" not in out
