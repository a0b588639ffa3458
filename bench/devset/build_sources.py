"""Rebuild the dev set's documents from the public repositories they come from.

    python bench/devset/build_sources.py --wikipedia GIT_DIR --canada GIT_DIR --estatuto GIT_DIR

Each GIT_DIR is a clone (bare or not) of the repository named in ``README.md``; files are
read at the pinned commits below with ``git show``, so the output is the same byte for
byte whatever the clone's newest commit is. Every transformation applied to the source
text is in this file (and summarised in the README): citation markers and reference lists
removed, long articles cut to the named sections, legislation cut to the named sections or
articles. The shipped samples (``corpus/samples``) are used in place and not rebuilt here.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPORA = HERE / "corpora"

WIKIPEDIA_COMMIT = "4f3e897da088cbe89a4f1d4cba3fa2e439c3721b"  # chinapedia/wikipedia.abstract.en
CANADA_COMMIT = "d6853c4af2ae0b7ab8c205a0e95ee734b9945c31"  # justicecanada/laws-lois-xml
ESTATUTO_COMMIT = "0aa37529832f852bf3465a489868a67e129eda3d"  # jtejederabit/legalping-es


def git_show(repo: Path, commit: str, path: str) -> str:
    out = subprocess.run(
        ["git", "--git-dir", str(repo), "show", f"{commit}:{path}"],
        check=True, capture_output=True,
    )
    return out.stdout.decode("utf-8").lstrip("\ufeff")


def git_dir(path: str) -> Path:
    """A clone's git directory (``repo/.git`` for a work tree, ``repo`` for a bare clone)."""
    p = Path(path)
    return p / ".git" if (p / ".git").is_dir() else p


def yaml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def front_matter(fields: dict[str, str]) -> str:
    lines = ["---"]
    for key, value in fields.items():
        lines.append(f"{key}: {value if key == 'date' else yaml_str(value)}")
    lines.append("---")
    return "\n".join(lines) + "\n\n"


# -- Wikipedia (CC BY-SA) ------------------------------------------------------------------

# Article -> the sections kept after the lead (None: every section before the reference
# lists). Long articles are cut to the sections an organizer would ask about.
WIKIPEDIA: dict[str, list[str] | None] = {
    "1982_garment_workers'_strike": None,
    "2016_U.S._prison_strike": None,
    "A_Manifesto_for_Labour_Law": None,
    "Apprenticeship_Levy": None,
    "Bonded_Labor_System_(Abolition)_Act,_1976": None,
    "Brian_Manning_(trade_unionist_and_activist)": ["Early life", "The Wave Hill Walk-off and Strike"],
    "Confectionery_Workers'_Union_of_Australia": None,
    "Eleanor_Stewart_(trade_unionist)": None,
    "Empire_Zinc_strike": None,
    "Federated_Amalgamated_Government_Railway_&_Tramway_Service_Association_v_NSW_Rail_Traffic_Employees_Association":
        None,
    "Food_Preservers'_Union_of_Australia": None,
    "Government_employees_in_the_United_States": None,
    "Guo_Liang_(leader_of_labour_movement)": None,
    "Incarcerated_Workers_Organizing_Committee": None,
    "International_Labour_Organization": ["Governance, organization, and membership"],
    "Knights_of_Labor": None,
    "Labor_movement_in_Taiwan": None,
    "Labor_policy_in_Italy": None,
    "Labour_Day": ["Other dates"],
    "Labour_law": ["History"],
    "Minimum_wage": ["History", "Minimum wage laws"],
    "National_Strike_Council": None,
    "National_War_Labor_Board_(1918–1919)": None,
    "National_War_Labor_Board_(1942–1945)": None,
    "New_England_Shoemakers_Strike_of_1860": None,
    "Occupational_dust_exposure": None,
    "Romanian_Royal_strike": None,
    "Saskatchewan_Federation_of_Labour_v_Saskatchewan": None,
    "Solidarity_(Polish_trade_union)": ["History", "Influence abroad"],
    "Trade_union": ["Definition", "Shop types"],
}
# Sections from which nothing more is article text.
_END_SECTIONS = {"References", "See also", "Notes", "Footnotes", "Further reading", "External links",
                 "Notes and references", "Bibliography", "Sources"}
_HEADING = re.compile(r"\n\n\n([^\n]{1,80})\n\n")
_CITATION = re.compile(r"\[(?:\d+|[a-z]|note \d+)\]")
_MEDIA = re.compile(r"^(?:\S+\.(?:jpe?g|png|svg|gif|webm|ogg|ogv|tiff?))\s*", re.IGNORECASE)
_EMPHASIS = re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])")


def wikipedia_sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) pairs; the lead has heading ''. Pandoc's plain text puts two blank
    lines before every heading."""
    parts: list[tuple[str, str]] = []
    last, heading = 0, ""
    for m in _HEADING.finditer(text):
        parts.append((heading, text[last : m.start()]))
        heading, last = m.group(1).strip(), m.end()
    parts.append((heading, text[last:]))
    return parts


def clean_wikipedia(body: str) -> str:
    body = _CITATION.sub("", body)
    body = _EMPHASIS.sub(r"\1", body)
    body = body.replace(" ()", "").replace("(; ", "(")
    paragraphs = []
    for para in re.split(r"\n\s*\n", body):
        para = _MEDIA.sub("", para.strip())
        # Image captions the converter left behind (", caption text.]]") and category lines.
        if not para or "]]" in para or para.startswith("Category:"):
            continue
        para = re.sub(r"^-\s+", "- ", para, flags=re.MULTILINE)
        paragraphs.append(para)
    return "\n\n".join(paragraphs)


def build_wikipedia(repo: Path) -> list[Path]:
    out_dir = CORPORA / "wikipedia"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for article, keep in WIKIPEDIA.items():
        raw = git_show(repo, WIKIPEDIA_COMMIT, f"Page/{article}.md")
        blocks: list[str] = []
        for heading, body in wikipedia_sections(raw):
            if heading in _END_SECTIONS:
                break
            if heading and keep is not None and heading not in keep:
                continue
            text = clean_wikipedia(body)
            if not text:
                continue
            blocks.append(f"## {heading}\n\n{text}" if heading else text)
        title = article.replace("_", " ")
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]
        meta = {
            "id": f"wiki-{slug}",
            "title": title,
            "author": "Wikipedia contributors",
            "date": "2019-07-20",
            "publication": "Wikipedia",
            "url": "https://en.wikipedia.org/wiki/" + article,
            "license": "CC BY-SA 3.0",
        }
        path = out_dir / f"{slug}.md"
        path.write_text(front_matter(meta) + "\n\n".join(blocks) + "\n", encoding="utf-8")
        written.append(path)
    return written


# -- Canada Labour Code (Open Government Licence - Canada) --------------------------------

# (file stem, title, sections kept in order)
CANADA: list[tuple[str, str, list[str]]] = [
    ("01-freedom-to-join-and-certification", "Freedom to join a union; applying for certification",
     ["8", "24", "25", "27"]),
    ("02-bargaining-and-check-off", "Notice to bargain, the duty to bargain, and compulsory check-off",
     ["48", "49", "50", "70"]),
    ("03-strikes-and-lockouts", "When strikes and lockouts are allowed", ["88", "88.1", "89", "90"]),
    ("04-unfair-practices", "Unfair practices by employers", ["94"]),
    ("05-access-to-employees", "Union access to employees in isolated places", ["109"]),
    ("06-refusal-of-dangerous-work", "Refusing dangerous work", ["128"]),
    ("07-pregnant-nursing-employees", "Pregnant and nursing employees; reprisal complaints",
     ["132", "133", "147"]),
    ("08-workplace-committees", "Work place health and safety committees", ["135"]),
    ("09-hours-of-work", "Standard hours of work and overtime",
     ["169", "170", "173", "173.01", "174", "174.1"]),
    ("10-minimum-wage-and-equal-wages", "Minimum wage, age of employment and equal wages",
     ["178", "179", "180", "181.1", "182"]),
    ("11-annual-vacations", "Annual vacations and vacation pay", ["184", "184.01", "185", "186", "187"]),
    ("12-general-holidays", "General holidays and holiday pay", ["192", "193", "196", "197", "198"]),
    ("13-maternity-and-parental-leave", "Maternity and parental leave", ["206", "206.1", "206.2"]),
    ("14-personal-and-family-violence-leave",
     "Personal leave, family violence leave and leave for traditional Aboriginal practices",
     ["206.6", "206.7", "206.8"]),
    ("15-bereavement-leave", "Bereavement leave", ["210"]),
    ("16-termination-and-severance", "Notice of termination and severance pay", ["230", "235"]),
    ("17-medical-leave", "Medical leave", ["239"]),
    ("18-unjust-dismissal", "Complaints of unjust dismissal", ["240", "241", "242", "246"]),
]
_STRUCT = ("Subsection", "Paragraph", "Subparagraph", "Clause", "Subclause", "Definition")
_SKIP_INLINE = (*_STRUCT, "HistoricalNote", "MarginalNote", "Label", "Text", "FootnoteRef",
                "ContinuedSectionSubsection", "ContinuedParagraph", "ContinuedSubparagraph",
                "ContinuedClause", "ContinuedDefinition")


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def _inline(el: ET.Element) -> str:
    parts = [el.text or ""]
    for child in el:
        if child.tag not in _SKIP_INLINE:
            parts.append("".join(child.itertext()))
        parts.append(child.tail or "")
    return _norm("".join(parts))


def _text(el: ET.Element) -> str:
    t = el.find("Text")
    return _inline(t) if t is not None else ""


def _label(el: ET.Element) -> str:
    lab = el.find("Label")
    return _norm("".join(lab.itertext())) if lab is not None else ""


def _lines(el: ET.Element) -> list[str]:
    """One line per provision: "(a) text", nested provisions on their own lines."""
    out = []
    head = " ".join(x for x in (_label(el), _text(el)) if x)
    if head:
        out.append(head)
    for child in el:
        if child.tag in _STRUCT:
            out.extend(_lines(child))
        elif child.tag.startswith("Continued") and (t := _text(child)):
            out.append(t)
    return out


def canada_section(sec: ET.Element) -> str:
    """A section as plain text: its marginal note on a line, then one paragraph per
    subsection (its lettered paragraphs on lines of their own)."""
    note = sec.find("MarginalNote")
    label = _label(sec)
    blocks: list[str] = []
    if t := _text(sec):
        blocks.append(f"{label} {t}")
    for child in sec:
        if child.tag == "Subsection":
            lines = _lines(child)
            if not blocks and lines:
                lines[0] = f"{label} {lines[0]}"
            blocks.append("\n".join(lines))
        elif child.tag in ("Paragraph", "Definition"):
            lines = _lines(child)
            if blocks:
                blocks[-1] += "\n" + "\n".join(lines)
            else:
                blocks.append("\n".join(lines))
        elif child.tag.startswith("Continued") and (t := _text(child)):
            blocks[-1] += "\n" + t
    head = _norm("".join(note.itertext())) if note is not None else f"Section {label}"
    return head + "\n\n" + "\n\n".join(blocks)


def build_canada(repo: Path) -> list[Path]:
    root = ET.fromstring(git_show(repo, CANADA_COMMIT, "eng/acts/L-2.xml"))
    sections = {_label(s): s for s in root.find("Body").iter("Section")}
    current = root.get("{http://justice.gc.ca/lims}current-date", "")
    out_dir = CORPORA / "canada-labour-code"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, title, labels in CANADA:
        body = "\n\n\n".join(canada_section(sections[label]) for label in labels)
        path = out_dir / f"{stem}.txt"
        path.write_text(f"Canada Labour Code: {title}\n\n{body}\n", encoding="utf-8")
        (out_dir / f"{stem}.txt.meta.toml").write_text(
            "# Metadata sidecar (see bench/devset/README.md): sections "
            f"{', '.join(labels)} of the Canada Labour Code.\n"
            f'id = "canada-{stem[3:]}"\n'
            f'title = "Canada Labour Code: {title}"\n'
            'publication = "Canada Labour Code (R.S.C., 1985, c. L-2)"\n'
            f"date = {current}\n"
            'url = "https://laws-lois.justice.gc.ca/eng/acts/L-2/"\n',
            encoding="utf-8",
        )
        written.append(path)
    return written


# -- Estatuto de los Trabajadores (Spanish legislation, public domain) --------------------

@dataclass(frozen=True)
class EsDoc:
    stem: str
    title: str
    articles: tuple[str, ...]  # "34", "20 bis"


ESTATUTO = [
    EsDoc("01-derechos-y-deberes", "Derechos y deberes laborales básicos", ("4", "5")),
    EsDoc("02-forma-y-periodo-de-prueba", "Forma del contrato y periodo de prueba", ("8", "14")),
    EsDoc("03-no-discriminacion-y-desconexion", "No discriminación, seguridad y salud, desconexión digital",
          ("17", "19", "20 bis")),
    EsDoc("04-salario", "Salario, salario mínimo interprofesional y pagas extraordinarias",
          ("26", "27", "28", "29", "31")),
    EsDoc("05-jornada-y-horas-extra", "Jornada y horas extraordinarias", ("34", "35")),
    EsDoc("06-nocturno-y-vacaciones", "Trabajo nocturno y vacaciones anuales", ("36", "38")),
    EsDoc("07-descanso-fiestas-permisos", "Descanso semanal, fiestas y permisos", ("37",)),
    EsDoc("08-excedencias", "Suspensión del contrato y excedencias", ("45", "46")),
    EsDoc("09-suspension-con-reserva", "Suspensión con reserva de puesto de trabajo", ("48",)),
    EsDoc("10-extincion-y-dimision", "Extinción del contrato y extinción por voluntad del trabajador",
          ("49", "50")),
    EsDoc("11-despido-objetivo", "Despido por causas objetivas", ("52", "53")),
    EsDoc("12-despido-disciplinario", "Despido disciplinario y despido improcedente", ("54", "55", "56")),
    EsDoc("13-prescripcion", "Prescripción y caducidad de acciones", ("59",)),
    EsDoc("14-representantes", "Delegados de personal y comités de empresa", ("62", "63", "66", "68")),
    EsDoc("15-asambleas", "Asambleas de trabajadores", ("77", "78", "79", "80", "81")),
    EsDoc("16-convenios-colectivos", "Convenios colectivos: concepto, contenido y vigencia", ("82", "86")),
]
_ARTICLE = re.compile(r"^#{2,6} Artículo (\d+(?: bis| ter)?)\. (.*)$")
_ANY_HEADING = re.compile(r"^#{1,6} ")


def estatuto_articles(markdown: str) -> dict[str, tuple[str, str]]:
    """Article number -> (heading text, body) from legalize-es's Markdown; editorial notes
    ("> <small>Se modifica …</small>") and bold markers are dropped."""
    articles: dict[str, tuple[str, str]] = {}
    current: str | None = None
    heading = ""
    lines: list[str] = []
    for line in [*markdown.split("\n"), "# end"]:
        m = _ARTICLE.match(line)
        if m or _ANY_HEADING.match(line):
            if current is not None:
                body = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
                articles[current] = (heading, body)
            current, lines = (m.group(1), []) if m else (None, [])
            heading = f"Artículo {m.group(1)}. {m.group(2)}" if m else ""
            continue
        if line.startswith("> <small>"):
            continue
        lines.append(line.replace("**", ""))
    return articles


def build_estatuto(repo: Path) -> list[Path]:
    articles = estatuto_articles(git_show(repo, ESTATUTO_COMMIT, "es/BOE-A-2015-11430.md"))
    out_dir = CORPORA / "estatuto-trabajadores"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for doc in ESTATUTO:
        title = f"Estatuto de los Trabajadores: {doc.title}"
        parts = [f"## {articles[a][0]}\n\n{articles[a][1]}" for a in doc.articles]
        meta = {
            "id": f"estatuto-{doc.stem[3:]}",
            "title": title,
            "date": "2015-10-24",
            "publication": "Boletín Oficial del Estado",
            "url": "https://www.boe.es/buscar/act.php?id=BOE-A-2015-11430",
            "language": "es",
        }
        path = out_dir / f"{doc.stem}.md"
        path.write_text(front_matter(meta) + f"# {title}\n\n" + "\n\n".join(parts) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wikipedia", help="clone of chinapedia/wikipedia.abstract.en")
    parser.add_argument("--canada", help="clone of justicecanada/laws-lois-xml")
    parser.add_argument("--estatuto", help="clone of jtejederabit/legalping-es (or legalize-dev/legalize-es)")
    args = parser.parse_args()
    built: list[Path] = []
    if args.wikipedia:
        built += build_wikipedia(git_dir(args.wikipedia))
    if args.canada:
        built += build_canada(git_dir(args.canada))
    if args.estatuto:
        built += build_estatuto(git_dir(args.estatuto))
    total = sum(p.stat().st_size for p in built)
    print(f"wrote {len(built)} documents, {total / 1024:.0f} KB")


if __name__ == "__main__":
    main()
