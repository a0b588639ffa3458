"""Spanish bulletins: dates, datelines and bylines in Spanish; the page's stated language."""

from __future__ import annotations

import datetime as dt

import pytest

from corpus.errors import ReadError
from corpus.load import load_source
from corpus.metadata import from_text, parse_date_text
from corpus.types import ReaderSettings

FEB_1 = dt.date(2023, 2, 1)


@pytest.mark.parametrize("text", [
    "1 de febrero de 2023",
    "febrero 1, 2023",
    "1º de febrero de 2023",
    "1° de febrero de 2023",
    "1ro de febrero de 2023",
    "1 de Febrero del 2023",
    "miércoles 1 de febrero de 2023",
    "1 de feb. de 2023",
])
def test_spanish_dates(text: str) -> None:
    assert parse_date_text(text) == FEB_1


def test_spanish_months_and_month_only_dates() -> None:
    assert parse_date_text("15 de septiembre de 2022") == dt.date(2022, 9, 15)
    assert parse_date_text("3 de dic. de 2021") == dt.date(2021, 12, 3)
    assert parse_date_text("agosto de 2020") == dt.date(2020, 8, 1)
    assert parse_date_text("32 de febrero de 2023") is None
    assert parse_date_text("1 de brumario de 2023") is None


def test_english_dates_unchanged() -> None:
    assert parse_date_text("Feb. 1, 2023") == FEB_1
    assert parse_date_text("1st February 2023") == FEB_1
    assert parse_date_text("Wednesday, February 1, 2023") == FEB_1
    assert parse_date_text("2/1/2023") == FEB_1


def test_boletin_dateline_and_escrito_por() -> None:
    meta = from_text("Huelga en Silao\n\nBoletín del 1 de febrero de 2023\n\n"
                     "Escrito por María de la Luz Ramírez\n\nLos trabajadores votaron.")
    assert meta == {"title": "Huelga en Silao", "date": FEB_1, "publication": "Boletín",
                    "author": "María de la Luz Ramírez"}


def test_del_boletin_dateline_names_the_publication() -> None:
    meta = from_text("Del Boletín Sindical del 1 de febrero de 2023\n\nPor Juan Pérez\n\nTexto.")
    assert meta["date"] == FEB_1
    assert meta["publication"] == "Boletín Sindical"
    assert meta["author"] == "Juan Pérez"
    assert "title" not in meta  # a dateline is not a title


def test_publicado_el_and_por_with_the_name_on_the_next_line() -> None:
    meta = from_text("Título\n\nPublicado el 3 de marzo de 2021\n\nPor\n\nAna López\n\nTexto.")
    assert meta["date"] == dt.date(2021, 3, 3)
    assert meta["author"] == "Ana López"


@pytest.mark.parametrize("line", [
    "Por la tarde, los trabajadores votaron.",
    "Por eso la asamblea decidió parar.",
    "Por Qué luchamos y por qué seguimos en la calle hasta que nos escuchen, compañeras.",
])
def test_sentences_starting_with_por_are_not_bylines(line: str) -> None:
    assert "author" not in from_text(f"Título\n\n{line}\n\nTexto.")


def test_title_with_a_date_is_not_a_dateline() -> None:
    meta = from_text("La reforma del 1 de mayo de 2019\n\nTexto.")
    assert meta == {"title": "La reforma del 1 de mayo de 2019"}


def test_front_matter_spanish_date_and_language(write, settings: ReaderSettings) -> None:
    path = write("b.md", "---\ntitle: Huelga\ndate: 1 de febrero de 2023\nlang: es-MX\n---\n"
                         "Los trabajadores de la planta votaron a favor del sindicato.\n")
    (document,) = load_source(str(path), settings)
    assert document.date == FEB_1
    assert document.language == "es"


def test_front_matter_lang_that_names_no_language_is_ignored(write, settings: ReaderSettings) -> None:
    path = write("c.md", "---\nlang: default\n---\nThe workers at the plant voted for the union.\n")
    assert load_source(str(path), settings)[0].language == "en"  # detected instead
    path = write("d.md", "---\nlanguage: default\n---\nText.\n")
    with pytest.raises(ReadError, match="invalid language 'default'"):
        load_source(str(path), settings)


def test_html_lang_and_spanish_meta_names(write, settings: ReaderSettings) -> None:
    path = write("p.html", '<html lang="es-MX"><head><meta name="autor" content="Ana López">'
                           '<meta name="fecha" content="1 de febrero de 2023"></head>'
                           "<body><p>Texto breve.</p></body></html>")
    (document,) = load_source(str(path), settings)
    assert (document.author, document.date, document.language) == ("Ana López", FEB_1, "es")


@pytest.mark.parametrize("head", [
    '<meta http-equiv="content-language" content="es">',
    '<meta property="og:locale" content="es_MX">',
])
def test_html_meta_language(write, settings: ReaderSettings, head: str) -> None:
    path = write("p.html", f"<html><head>{head}</head><body><p>OK.</p></body></html>")
    assert load_source(str(path), settings)[0].language == "es"


def test_bad_language_in_a_sidecar_is_an_error(write, settings: ReaderSettings) -> None:
    path = write("a.txt", "Some text.")
    write("a.txt.meta.toml", 'language = "klingonese"\n')
    with pytest.raises(ReadError, match="invalid language 'klingonese'"):
        load_source(str(path), settings)
