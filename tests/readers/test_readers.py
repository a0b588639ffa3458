"""Every format read into Documents: text, paragraphs, pages and metadata a user sees."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from corpus.load import load_source
from corpus.types import ReaderSettings

# -- shipped samples -----------------------------------------------------------------------


def test_hermanson_sample_loses_chrome_keeps_content(settings, samples):
    hermanson = samples / "hermanson-cio-moment.txt"
    (doc,) = load_source(str(hermanson), settings)
    for chrome in ("Welcome to the Dashboard", "Close dashboard icon",
                   "LibreOrganize 0.6.0 - Documentation"):
        assert chrome not in doc.text
    assert "from three million union members in 1935 to six million in 1940" in doc.text
    assert doc.text.startswith("Maximizing México’s ‘CIO Moment’: Tri-National Labor Unity\n\n")
    assert doc.text.count("Tri-National Labor Unity") == 1  # the title is not duplicated


def test_hermanson_sample_metadata_with_sidecar(settings, samples):
    hermanson = samples / "hermanson-cio-moment.txt"
    (doc,) = load_source(str(hermanson), settings)
    assert doc.title == "Maximizing México’s ‘CIO Moment’: Tri-National Labor Unity"
    assert doc.date == dt.date(2023, 2, 1)
    assert doc.publication == "Bulletin"
    assert doc.url == "https://mexicosolidarityproject.org/voices/124/"
    assert doc.format == "text"


def test_hermanson_metadata_comes_from_the_text_alone(tmp_path, settings, samples):
    hermanson = samples / "hermanson-cio-moment.txt"
    alone = tmp_path / hermanson.name  # copied without its sidecar
    shutil.copy(hermanson, alone)
    (doc,) = load_source(str(alone), settings)
    assert doc.title == "Maximizing México’s ‘CIO Moment’: Tri-National Labor Unity"
    assert doc.date == dt.date(2023, 2, 1)
    assert doc.publication == "Bulletin"
    assert doc.url is None


def test_scipes_sample(tmp_path, settings, samples):
    scipes = samples / "scipes-global-labor-solidarity.txt"
    (doc,) = load_source(str(scipes), settings)
    assert "welga ng bayan" in doc.text
    assert "Produce less. Distribute it fairly." not in doc.text
    assert "\nOriginally Published in\n" not in f"\n{doc.text}\n"
    assert doc.title.startswith("For Those Who Know Little or Nothing about Labor")
    assert doc.publication == "Green Social Thought"
    assert doc.url == "https://greensocialthought.org/"
    assert doc.author == "Kim Scipes"
    alone = tmp_path / scipes.name
    shutil.copy(scipes, alone)
    (bare,) = load_source(str(alone), settings)
    assert bare.author == "Kim Scipes"
    assert bare.publication is None
    assert bare.text == doc.text


def test_samples_keep_faithful_spacing(settings, samples):
    scipes = samples / "scipes-global-labor-solidarity.txt"
    (doc,) = load_source(str(scipes), settings)
    # Two spaces (no-break + space) after periods exist in the source and must survive.
    assert "2016).\xa0 It was a strong effort" in doc.text
    assert "\n\n\n" not in doc.text


# -- plain text ----------------------------------------------------------------------------


def test_text_paragraphs_and_line_breaks(write, settings):
    path = write("notes.txt", "Strike Vote Tonight\r\n\r\n\r\n\r\nFirst line\r\nsame para  \r\n\r\n"
                              "Second\tpara\n\n\n")
    (doc,) = load_source(str(path), settings)
    assert doc.text == "Strike Vote Tonight\n\nFirst line\nsame para\n\nSecond para"
    assert doc.title == "Strike Vote Tonight"
    assert doc.pages == ()


def test_title_falls_back_to_file_name_when_first_line_is_long(write, settings):
    path = write("march-report.txt", "word " * 100 + "\n\nMore.")
    (doc,) = load_source(str(path), settings)
    assert doc.title == "March report"


def test_cp1252_text_decodes_right(write, settings):
    text = "Café workers’ “union” won — naïve bosses lost.\n\nSeñor Pérez agreed."
    path = write("old.txt", text.encode("cp1252"))
    (doc,) = load_source(str(path), settings)
    assert doc.text == text


def test_utf8_with_a_stray_cp1252_byte(write, settings):
    data = "México’s union: ".encode() + "workers\x92 rights".encode("latin-1")
    (doc,) = load_source(str(write("mixed.txt", data)), settings)
    assert doc.text == "México’s union: workers’ rights"


def test_latin1_short_text(write, settings):
    path = write("short.txt", "Rhône local".encode("latin-1"))
    (doc,) = load_source(str(path), settings)
    assert doc.text == "Rhône local"


def test_utf16_with_bom(write, settings):
    path = write("wide.txt", "\ufeffUnión local 5\n\nSí se puede".encode("utf-16"))
    (doc,) = load_source(str(path), settings)
    assert doc.text == "Unión local 5\n\nSí se puede"


def test_ten_megabyte_single_line_is_read(write):
    settings = ReaderSettings(max_text_chars=11_000_000)  # the default stops at 5 million
    line = "solidarity  forever, " + " " * 5_000_000 + "x" * 4_999_979
    (doc,) = load_source(str(write("huge.txt", line + "   ")), settings)
    assert doc.text == line


# -- Markdown ------------------------------------------------------------------------------

FRONT_MATTER = """---
title: Contract Campaign Update
author: [Ana Ruiz, Lee Chen]
date: 2024-03-05
publication: Local 12 News
url: https://example.org/update
tags: contract, bargaining
id: update-2024-03
layout: post
---
# A heading that is not the title

Bargaining resumes **Monday**.

- item one
- item two
"""


def test_markdown_front_matter(write, settings):
    (doc,) = load_source(str(write("update.md", FRONT_MATTER)), settings)
    assert doc.title == "Contract Campaign Update"
    assert doc.author == "Ana Ruiz, Lee Chen"
    assert doc.date == dt.date(2024, 3, 5)
    assert doc.publication == "Local 12 News"
    assert doc.url == "https://example.org/update"
    assert doc.tags == ("contract", "bargaining")
    assert doc.doc_id == "update-2024-03"
    assert doc.format == "markdown"
    assert "layout" not in doc.text and "---" not in doc.text
    # Stored as clean text: markup gone, the heading a paragraph of its own and marked as one.
    assert doc.text == "A heading that is not the title\n\nBargaining resumes Monday.\n\nitem one\nitem two"
    assert [doc.text[s:e] for s, e in doc.headings] == ["A heading that is not the title"]


MARKUP = """# FMLA Violation

## You have the right to be paid overtime.

Ask *your* employer for the [WH-347 form](https://example.org/form) **in writing**
before the end of the week, and keep a `copy`.

- Keep a log of hours.
  - Note breaks too.
1. File within two years.

> Quoted from the handbook.

| Rate | Hours |
|------|-------|
| 1.5x | over 40 |

![a photo](photo.jpg) <span>Bold move</span>
"""


def test_markdown_is_stored_without_markup(write, settings):
    (doc,) = load_source(str(write("rights.md", MARKUP)), settings)
    for marker in ("#", "*", "`", "[", "](", "> ", "- ", "1. ", "|---", "<span>", "photo.jpg"):
        assert marker not in doc.text, marker
    assert "Ask your employer for the WH-347 form in writing before the end of the week" in doc.text
    assert "Keep a log of hours.\nNote breaks too.\n\nFile within two years." in doc.text
    assert "Rate | Hours\n1.5x | over 40" in doc.text
    # Both headings are marked, even the one that ends like a sentence.
    assert [doc.text[s:e] for s, e in doc.headings] == [
        "FMLA Violation", "You have the right to be paid overtime."
    ]
    assert doc.title == "FMLA Violation"


def test_markdown_title_from_h1_without_front_matter(write, settings):
    path = write("note.markdown", "Intro line\n\n# Shop Floor Report #\n\nText.")
    (doc,) = load_source(str(path), settings)
    assert doc.title == "Shop Floor Report"


# -- HTML ----------------------------------------------------------------------------------

PAGE = """<!doctype html>
<html><head>
<title>Heat Standard Win | Workers United Site</title>
<meta name="author" content="Dana Ortiz">
<meta property="article:published_time" content="2024-06-10T09:30:00+00:00">
<meta property="og:url" content="https://example.org/heat">
<meta property="og:site_name" content="The Organizer">
<meta name="keywords" content="heat, safety, osha">
<style>.x{color:red}</style><script>var tracking = 1;</script>
</head><body>
<header><a href="/">Home</a> <a href="/join">Join us</a></header>
<nav><ul><li>Menu item</li></ul></nav>
<main>
  <h1>Heat Standard Win</h1>
  <p>Workers   won a
     heat standard.</p>
  <p>It covers <b>every</b> warehouse.<br>Starting July.</p>
  <ul><li>Water</li><li>Rest</li></ul>
  <aside>Pull quote repeated</aside>
  <form><input name="email"><button>Subscribe</button></form>
</main>
<aside class="sidebar">Related links</aside>
<footer>© Union site 2024</footer>
</body></html>"""


def test_html_main_content_and_metadata(write, settings):
    (doc,) = load_source(str(write("heat.html", PAGE)), settings)
    assert doc.text == ("Heat Standard Win\n\nWorkers won a heat standard.\n\n"
                        "It covers every warehouse.\nStarting July.\n\nWater\nRest")
    assert doc.title == "Heat Standard Win"  # the one <h1>, not "… | Workers United Site"
    assert doc.author == "Dana Ortiz"
    assert doc.date == dt.date(2024, 6, 10)
    assert doc.publication == "The Organizer"
    assert doc.url == "https://example.org/heat"
    assert doc.tags == ("heat", "safety", "osha")
    assert doc.format == "html"


def test_html_og_title_and_canonical(write, settings):
    page = """<html><head><title>Site | Page</title>
    <meta property="og:title" content="Real Title">
    <link rel="canonical" href="https://example.org/real"></head>
    <body><div><p>Body text here.</p></div></body></html>"""
    (doc,) = load_source(str(write("p.htm", page)), settings)
    assert doc.title == "Real Title"
    assert doc.url == "https://example.org/real"
    assert doc.text == "Body text here."


def test_html_chrome_lines_apply_too(write, settings):
    page = """<html><body><div>Welcome to the Dashboard, Maria!</div><p>Close dashboard icon</p>
    <h1>Title</h1><p>from the Feb. 1, 2023 Bulletin</p><p>Content.</p>
    <p>LibreOrganize 0.7.12 - Documentation</p></body></html>"""
    (doc,) = load_source(str(write("lo.html", page)), settings)
    assert doc.text == "Title\n\nfrom the Feb. 1, 2023 Bulletin\n\nContent."
    assert doc.date == dt.date(2023, 2, 1)
    assert doc.publication == "Bulletin"


def test_configured_chrome_selectors_replace_defaults(write):
    page = "<html><body><nav>Menu</nav><div class='promo'>Buy</div><p>Text.</p></body></html>"
    settings = ReaderSettings(chrome_selectors=[".promo"])
    (doc,) = load_source(str(write("c.html", page)), settings)
    assert doc.text == "Menu\n\nText."


def test_html_table_cells_are_separated(write, settings):
    page = ("<p>Wages</p><table><tr><td>Step 1</td><td>$15</td></tr>"
            "<tr><td>Step 2</td><td>$17</td></tr></table>")
    (doc,) = load_source(str(write("t.html", page)), settings)
    assert doc.text == "Wages\n\nStep 1 $15\nStep 2 $17"


ISSUE = """<html><head><title>The March 2024 Bulletin</title>
<meta name="date" content="2024-03-01"><meta property="og:site_name" content="Bulletin">
</head><body><nav>Home | Archive</nav>
<main><h1>The March 2024 Bulletin</h1><p>In this issue: three stories.</p>
<article><h2>Nurses Win Staffing Ratios</h2><p>By Rosa Diaz</p>
<p>After a two-year campaign, nurses won ratios.</p><p>The vote was 412 to 9.</p></article>
<article><header><h2>Drivers Join the Union</h2></header>
<p>Ninety drivers signed cards in a week.</p></article>
<article><h2>Picnic on Saturday</h2><p>Bring your family to Lincoln Park.</p></article>
</main><footer>Contact us</footer></body></html>"""


def test_multi_article_issue_is_split(write, settings):
    path = write("march-2024.html", ISSUE)
    docs = load_source(str(path), settings)
    assert [d.title for d in docs] == ["Nurses Win Staffing Ratios", "Drivers Join the Union",
                                       "Picnic on Saturday"]
    assert all(d.date == dt.date(2024, 3, 1) and d.publication == "Bulletin" for d in docs)
    assert docs[0].author == "Rosa Diaz" and docs[1].author is None
    assert docs[0].text == ("Nurses Win Staffing Ratios\n\nBy Rosa Diaz\n\nAfter a two-year "
                            "campaign, nurses won ratios.\n\nThe vote was 412 to 9.")
    assert docs[2].text == "Picnic on Saturday\n\nBring your family to Lincoln Park."
    assert not any("In this issue" in d.text or "Home" in d.text for d in docs)
    ids = [d.doc_id for d in docs]
    assert len(set(ids)) == 3
    assert ids[0].endswith("#nurses-win-staffing-ratios")
    assert ids == [d.doc_id for d in load_source(str(path), settings)]  # stable


H2_ISSUE = """<html><head><title>Spring Issue</title>{meta}</head><body><main>
<h1>Spring Issue</h1><p>from the April 2, 2024 Steward News</p>
<h2>Grievance Wins</h2><p>Three grievances settled.</p>
<section><h2>Training Night</h2><p>Stewards meet Tuesday.</p></section>
</main></body></html>"""


def test_h2_split_when_the_page_asks(write, settings):
    meta = '<meta name="steward:split" content="h2">'
    docs = load_source(str(write("spring.html", H2_ISSUE.format(meta=meta))), settings)
    assert [(d.title, d.text) for d in docs] == [
        ("Grievance Wins", "Grievance Wins\n\nThree grievances settled."),
        ("Training Night", "Training Night\n\nStewards meet Tuesday."),
    ]
    assert all(d.date == dt.date(2024, 4, 2) and d.publication == "Steward News" for d in docs)


def test_h2_split_by_override_and_not_by_default(write, settings):
    path = write("spring.html", H2_ISSUE.format(meta=""))
    assert len(load_source(str(path), settings)) == 1
    docs = load_source(str(path), settings, {"split": "h2", "id": "spring"})
    assert [d.doc_id for d in docs] == ["spring#grievance-wins", "spring#training-night"]


# -- PDF -----------------------------------------------------------------------------------


def test_pdf_pages_and_offsets(write, settings, make_pdf):
    pages = [["Page one opens the report.", "More on page one."],
             ["Page two talks about wages."],
             [],
             ["Page four closes it."]]
    (doc,) = load_source(str(write("report.pdf", make_pdf(pages, title="Wage Report"))),
                         settings)
    assert doc.title == "Wage Report"
    assert doc.format == "pdf"
    assert len(doc.pages) == 4
    for number, marker in ((1, "Page one opens"), (2, "Page two talks"), (4, "Page four")):
        offset = doc.text.index(marker)
        assert doc.pages[number - 1] == offset
        assert doc.page_at(offset + 3) == number
    assert doc.text.index("Page two") - len("\n\n") == doc.text.index("More on page one.") + len(
        "More on page one.")  # pages are separated by exactly one blank line


def test_pdf_encrypted_with_empty_password_is_read(write, settings, make_pdf):
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([["Open text."]]))))
    writer.encrypt("", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    (doc,) = load_source(str(write("restricted.pdf", out.getvalue())), settings)
    assert doc.text == "Open text."


# -- DOCX ----------------------------------------------------------------------------------


def test_docx_paragraphs_table_and_core_properties(write, settings, make_docx):
    data = make_docx(["We bargained for 14 hours.", "Line one\nline two"],
                      title="Bargaining Report", author="Sam Lee",
                      created=dt.datetime(2024, 2, 20, 12, 0),
                      table=[["Step", "Wage"], ["1", "$15.00"]], heading="Tentative Agreement")
    (doc,) = load_source(str(write("report.docx", data)), settings)
    assert doc.text == ("Tentative Agreement\n\nWe bargained for 14 hours.\n\nLine one\nline two"
                        "\n\nStep Wage\n1 $15.00")
    assert (doc.title, doc.author, doc.date) == ("Bargaining Report", "Sam Lee",
                                                 dt.date(2024, 2, 20))
    assert doc.format == "docx"


def test_docx_title_from_heading_and_no_template_metadata(write, settings, make_docx):
    (doc,) = load_source(str(write("x.docx", make_docx(["Body."], heading="Safety Alert"))),
                         settings)
    assert doc.title == "Safety Alert"
    assert doc.author is None  # python-docx's template says "python-docx"
    assert doc.date is None


@pytest.mark.parametrize("name", ["UPPER.TXT", "page.HTM"])
def test_suffix_is_case_insensitive(write, settings, name):
    (doc,) = load_source(str(write(name, "<p>Hello</p>" if "HTM" in name else "Hello")), settings)
    assert doc.text == "Hello"
