"""Normalisation, chrome rules, metadata from text/sidecars/overrides, ids, folder expansion."""

from __future__ import annotations

import datetime as dt
import os
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from corpus.clean import (
    DEFAULT_CHROME_CAPTIONS,
    DEFAULT_CHROME_LINES,
    DEFAULT_CHROME_SELECTORS,
    clean_text,
    normalise_text,
)
from corpus.errors import ReadError, UnsupportedFormat
from corpus.load import derive_doc_id, expand_sources, load_source
from corpus.metadata import from_text, parse_date_text
from corpus.types import ReaderSettings

# -- normalisation -------------------------------------------------------------------------


def test_normalise_rules():
    raw = ("\n\n  \nTi\u0301tle\u202e\u200b\r\nline\x00 two\t end   \r\r\r\r"
           "Para\u2066 two.  Two spaces kept.\n\n\n\n\n")
    assert normalise_text(raw) == "Títle\nline two  end\n\nPara two.  Two spaces kept."


BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@hyp_settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None), max_size=200)
       | st.text(alphabet="a \n\r\t\x00\x0b\x85\u2028\u2029\u202e\u2066\u200b\u0301é\ud800",
                 max_size=60))
def test_normalise_is_idempotent_and_clean(text):
    once = normalise_text(text)
    assert normalise_text(once) == once
    assert not any(ch != "\n" and unicodedata.category(ch) == "Cc" for ch in once)
    assert not BIDI & set(once)
    assert "\n\n\n" not in once
    assert once == once.strip("\n")
    assert all(line == line.rstrip() for line in once.split("\n"))
    assert unicodedata.is_normalized("NFC", once)


# -- chrome rules --------------------------------------------------------------------------


@pytest.mark.parametrize("line", [
    "Welcome to the Dashboard, !",
    "Welcome to the Dashboard, Maria Lopez!",
    "Close dashboard icon",
    "LibreOrganize 0.6.0 - Documentation",
    "LibreOrganize 1.12 – Documentation",
    "Produce less. Distribute it fairly. Create a greener world for all.",
    "Originally Published in",
    "  Originally Published in:  ",
])
def test_default_chrome_lines_removed(line):
    assert clean_text(f"Before\n\n{line}\n\nAfter", DEFAULT_CHROME_LINES) == "Before\n\nAfter"


@pytest.mark.parametrize("line", [
    "Originally Published in The Nation, May 2023",
    "We welcome everyone. Close the plant? No!",
    "Welcome to the Dashboard, where members track grievances.",
    "LibreOrganize 0.6.0 - Documentation is where the settings are described.",
])
def test_content_lines_that_resemble_chrome_stay(line):
    assert clean_text(f"Before\n\n{line}\n\nAfter", DEFAULT_CHROME_LINES) == (
        f"Before\n\n{line.strip()}\n\nAfter")


def test_settings_default_to_the_documented_rules():
    assert ReaderSettings().chrome_lines == list(DEFAULT_CHROME_LINES)
    assert ReaderSettings().chrome_selectors == list(DEFAULT_CHROME_SELECTORS)
    assert ReaderSettings().chrome_lines is not ReaderSettings().chrome_lines


def test_empty_chrome_lines_turn_removal_off(write):
    path = write("a.txt", "Close dashboard icon\n\nText.")
    (doc,) = load_source(str(path), ReaderSettings(chrome_lines=[]))
    assert doc.text == "Close dashboard icon\n\nText."


def test_invalid_chrome_pattern_is_a_clear_read_error(write):
    with pytest.raises(ReadError, match=r"chrome_lines pattern '\(unclosed' is not a valid"):
        load_source(str(write("a.txt", "Text.")), ReaderSettings(chrome_lines=["(unclosed"]))


# -- metadata from text --------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("Feb. 1, 2023", dt.date(2023, 2, 1)),
    ("February 1, 2023", dt.date(2023, 2, 1)),
    ("Sept. 30, 2022", dt.date(2022, 9, 30)),
    ("1 March 2024", dt.date(2024, 3, 1)),
    ("2024-03-05", dt.date(2024, 3, 5)),
    ("3/5/2024", dt.date(2024, 3, 5)),
    ("March 2024", dt.date(2024, 3, 1)),
    ("2024-06-10T09:30:00+00:00", dt.date(2024, 6, 10)),
    ("Febtober 1, 2023", None),
    ("Feb. 30, 2023", None),
])
def test_parse_date_text(text, expected):
    assert parse_date_text(text) == expected


@pytest.mark.parametrize("line, date, publication", [
    ("from the Feb. 1, 2023 Bulletin", dt.date(2023, 2, 1), "Bulletin"),
    ("From the September 15, 2022 Steward Newsletter.", dt.date(2022, 9, 15),
     "Steward Newsletter"),
    ("from the 2023-02-01 issue of Labor Notes", dt.date(2023, 2, 1), "Labor Notes"),
])
def test_dateline(line, date, publication):
    meta = from_text(f"Title\n\n{line}\n\nBody.")
    assert (meta["date"], meta["publication"], meta["title"]) == (date, publication, "Title")


@pytest.mark.parametrize("text, author", [
    ("Title\n\nWritten by\n\nKim Scipes\n\nBody.", "Kim Scipes"),
    ("Title\n\nWritten by Kim Scipes\n\nBody.", "Kim Scipes"),
    ("Title\n\nBy Jane Doe\n\nBody.", "Jane Doe"),
    ("Title\n\nBy 1940, membership had doubled.\n\nBody.", None),
    ("Title\n\nWritten by\n\nthe editors, who asked us to say this.", None),
])
def test_author_from_text(text, author):
    assert from_text(text).get("author") == author


def test_metadata_lines_are_not_titles():
    assert "title" not in from_text("from the Feb. 1, 2023 Bulletin\n\nBody.")


# -- sidecars and overrides ----------------------------------------------------------------

TEXT = "Shop Floor Report\n\nfrom the Feb. 1, 2023 Bulletin\n\nBy Jane Doe\n\nBody text."


def test_precedence_text_then_sidecars_then_overrides(write, settings):
    path = write("report.txt", TEXT)
    (doc,) = load_source(str(path), settings)
    assert (doc.title, doc.author, doc.date, doc.publication) == (
        "Shop Floor Report", "Jane Doe", dt.date(2023, 2, 1), "Bulletin")

    write("report.meta.toml", 'title = "Stem Title"\nauthor = "Stem Author"\n'
                              'tags = "a, b"\ndate = 2023-03-01\n')
    write("report.txt.meta.toml", 'title = "Full Name Title"\n')
    (doc,) = load_source(str(path), settings)
    assert doc.title == "Full Name Title"  # NAME.ext.meta.toml beats NAME.meta.toml
    assert doc.author == "Stem Author"  # sidecar beats the text
    assert doc.date == dt.date(2023, 3, 1)
    assert doc.tags == ("a", "b")
    assert doc.publication == "Bulletin"  # still from the text

    (doc,) = load_source(str(path), settings, {"title": "CLI Title", "date": "2024-01-02",
                                               "tags": ["x"], "author": None})
    assert (doc.title, doc.author, doc.date, doc.tags) == (
        "CLI Title", "Stem Author", dt.date(2024, 1, 2), ("x",))


def test_user_id_wins(write, settings):
    path = write("report.txt", TEXT)
    write("report.meta.toml", 'id = "from-sidecar"\n')
    assert load_source(str(path), settings)[0].doc_id == "from-sidecar"
    assert load_source(str(path), settings, {"id": "from-cli"})[0].doc_id == "from-cli"


@pytest.mark.parametrize("overrides, message", [
    ({"date": "01/02/2023"}, "invalid date '01/02/2023' in the overrides; expected YYYY-MM-DD"),
    ({"autor": "x"}, "unknown metadata field 'autor'"),
    ({"split": "h3"}, "invalid split 'h3'"),
    ({"tags": 5}, "tags in the overrides must be a list"),
])
def test_bad_overrides(write, settings, overrides, message):
    with pytest.raises(ReadError, match=message):
        load_source(str(write("r.txt", TEXT)), settings, overrides)


def test_bad_sidecar_date_and_syntax(write, settings):
    path = write("r.txt", TEXT)
    write("r.meta.toml", 'date = "Feb 1"\n')
    with pytest.raises(ReadError, match=r"invalid date 'Feb 1' in sidecar r.meta.toml; "
                                        "expected YYYY-MM-DD"):
        load_source(str(path), settings)
    write("r.meta.toml", "title = \n")
    with pytest.raises(ReadError, match=r"sidecar r\.meta\.toml could not be read"):
        load_source(str(path), settings)


def test_front_matter_bad_date(write, settings):
    with pytest.raises(ReadError, match="invalid date 'someday' in the front matter"):
        load_source(str(write("n.md", "---\ndate: someday\n---\nText.")), settings)


# -- document ids --------------------------------------------------------------------------


def test_derive_doc_id_is_stable_and_distinct(tmp_path):
    a = tmp_path / "one" / "March Bulletin.pdf"
    b = tmp_path / "two" / "March Bulletin.pdf"
    assert derive_doc_id(str(a)) == derive_doc_id(str(a))
    assert derive_doc_id(str(a)).startswith("march-bulletin-")
    assert derive_doc_id(str(a)) != derive_doc_id(str(b))
    assert derive_doc_id(str(a), "Nurses Win!") == derive_doc_id(str(a)) + "#nurses-win"
    url = derive_doc_id("https://example.org/voices/124/")
    assert url.startswith("124-") and url != derive_doc_id("https://example.org/voices/125/")


def test_doc_id_of_relative_and_absolute_path_agree(write, settings, monkeypatch):
    path = write("same.txt", "Text.")
    monkeypatch.chdir(path.parent)
    assert load_source("same.txt", settings)[0].doc_id == load_source(str(path), settings)[
        0].doc_id


# -- expand_sources ------------------------------------------------------------------------


def test_expand_folder_sorted_skipping_hidden_and_sidecars(write, tmp_path):
    for name in ("b.txt", "a.md", "sub/c.pdf", "sub/deeper/d.docx", ".hidden.txt",
                 ".git/x.txt", "a.md.meta.toml", "photo.jpg", "README"):
        write(name, "x")
    sources, errors = expand_sources([str(tmp_path), "https://example.org/a", str(tmp_path)])
    names = [os.path.relpath(s, tmp_path) for s in sources if not s.startswith("http")]
    assert names == ["a.md", "b.txt", "sub/c.pdf", "sub/deeper/d.docx"]
    assert "https://example.org/a" in sources
    assert len(sources) == 5  # the folder named twice is listed once
    reasons = sorted(e.reason for e in errors if isinstance(e, UnsupportedFormat))
    assert reasons == [
        "skipped: unknown format (no file extension) (Steward reads .txt .md .html .pdf .docx)",
        "skipped: unknown format .jpg (Steward reads .txt .md .html .pdf .docx)",
    ]


def test_expand_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    sources, errors = expand_sources([str(tmp_path / "missing.txt"), "ftp://example.org/x",
                                      "file:///etc/passwd", str(tmp_path / "empty")])
    assert sources == []
    assert [e.reason.split(";")[0] for e in errors] == [
        "the path does not exist",
        "refused: only http:// and https:// links can be read, not ftp://",
        "refused: only http:// and https:// links can be read, not file://",
        "the folder holds no files Steward reads (.txt .md .html .pdf .docx)",
    ]


def test_symlink_outside_folder_is_refused(write, tmp_path):
    outside = write("secret/notes.txt", "private")
    inside = write("bulletins/a.txt", "ok")
    (tmp_path / "bulletins" / "leak.txt").symlink_to(outside)
    (tmp_path / "bulletins" / "alias.txt").symlink_to(inside)
    sources, errors = expand_sources([str(tmp_path / "bulletins")])
    assert [os.path.basename(s) for s in sources] == ["a.txt"]  # alias.txt: same file
    assert len(errors) == 1 and errors[0].source.endswith("leak.txt")
    assert "refused" in errors[0].reason and "outside the folder" in errors[0].reason


def test_a_photo_caption_block_is_not_content(settings) -> None:
    # The shipped interview interleaves a hard-wrapped caption, ended by its credit, with the
    # article's paragraphs; a caption and credit on one line follows later.
    sample = Path(__file__).parents[2] / "corpus" / "samples" / "hermanson-cio-moment.txt"
    (doc,) = load_source(str(sample), settings)
    for caption in ("Casa Obrera Potosina", "educates workers", "Photo: Solidarity Centers",
                    "US workers meet with maquila workers", "Photo: Austin Tan"):
        assert caption not in doc.text
    # The paragraphs around the captions are intact.
    assert "We need to map out the economic relationships" in doc.text
    assert "US, Canadian, and Mexican scholars could carry this work out jointly" in doc.text
    assert "This work also needs to involve more than union staff and top leaders." in doc.text


def test_caption_rule_keeps_paragraphs_that_only_mention_photos() -> None:
    text = (
        "The photo: it showed the picket line at dawn, and we shared it.\n\n"
        "Marchers at the plant gate.\nPhoto credit: Ana Ruiz\n\n"
        + " ".join(["word"] * 70) + "\nPhoto: long paragraphs are not captions"
    )
    kept = clean_text(text, (), DEFAULT_CHROME_CAPTIONS)
    assert kept.startswith("The photo: it showed the picket line")
    assert "Marchers at the plant gate" not in kept
    assert "long paragraphs are not captions" in kept
    assert clean_text(text, (), ()) == text  # an empty list turns the rule off
