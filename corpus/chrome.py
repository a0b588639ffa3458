"""The default site-chrome rules: the one place that says what is not content.

Kept in a module with no imports so ``corpus.types`` can use the lists as defaults
without an import cycle; ``corpus.clean`` re-exports them. config.toml's ``[reader]``
``chrome_lines`` / ``chrome_selectors`` replace these lists (an empty list turns them off).
"""

from __future__ import annotations

# Regular expressions matched against each whole line (after stripping its surrounding
# whitespace, with ``re.fullmatch``); a matching line is removed wherever it appears.
DEFAULT_CHROME_LINES: tuple[str, ...] = (
    # LibreOrganize dashboard greeting; the name is empty for anonymous visitors ("Dashboard, !").
    r"Welcome to the Dashboard,[^!]{0,80}!",
    # LibreOrganize dashboard close button's alt text.
    r"Close dashboard icon",
    # LibreOrganize footer link, any version ("LibreOrganize 0.6.0 - Documentation").
    r"LibreOrganize\s+v?\d+(?:\.\d+)*\s*[-–—]\s*Documentation",
    # Green Social Thought's site tagline, printed above every article.
    r"Produce less\. Distribute it fairly\. Create a greener world for all\.",
    # An empty "Originally Published in" label (its link was lost); the label followed by a
    # name on the same line is content and stays. The next line is never taken as its value.
    r"Originally [Pp]ublished (?:in|on|at):?",
)

# Photo captions. Scraped pages put a photo's caption between paragraphs as its own block,
# often hard-wrapped into short lines, and end it with the photo's credit; such a block breaks
# the sentences around it and is not the article's text. A paragraph (a block between blank
# lines) of at most CAPTION_MAX_WORDS words whose last line matches one of these regular
# expressions (``re.search``) is removed whole. In HTML, <figcaption> is removed by selector.
DEFAULT_CHROME_CAPTIONS: tuple[str, ...] = (
    # "Photo: Solidarity Centers.", "… maquila workers. Photo: Austin Tan", "Photo credit: …",
    # "Photograph by …", "Image: …", and the Spanish "Foto: …", "Fotografía de …".
    r"(?:^|[.!?]\s+)(?:Photo|Photograph|Image|Picture|Foto|Fotografía|Imagen)s?"
    r"(?:\s+(?:credit|courtesy|by|de|por|cortesía))?\s*(?::|by\b|de\b|por\b)\s*\S[^\n]{0,150}$",
    # "Credit: …", "Courtesy of …", "Crédito: …", "Cortesía de …" as the block's last line.
    r"^(?:Credit|Credits|Courtesy of|Crédito|Créditos|Cortesía de)\s*:?\s+\S[^\n]{0,150}$",
)
CAPTION_MAX_WORDS = 60

# CSS selectors (soupsieve syntax) removed from HTML before the main content is extracted.
DEFAULT_CHROME_SELECTORS: tuple[str, ...] = (
    # Code and styling, never text a reader sees.
    "script",
    "style",
    "noscript",
    "template",
    # Site navigation menus.
    "nav",
    "[role=navigation]",
    # The site's page header (masthead, login links); an article's own <header> holds its
    # title and byline, so headers inside <article> or <main> stay.
    "header:not(article header):not(main header)",
    "[role=banner]",
    # Page footers (copyright, links) and article footers (share buttons, tag lists).
    "footer",
    "[role=contentinfo]",
    # Sidebars and pull quotes (a pull quote repeats text that is already in the article).
    "aside",
    "[role=complementary]",
    ".sidebar",
    # Forms: search boxes, newsletter sign-ups, comment forms.
    "form",
    "button",
    "input",
    "select",
    "textarea",
    # Photo captions and their credits (WordPress marks its captions .wp-caption-text).
    "figcaption",
    ".wp-caption-text",
    # Embedded media and drawings, which carry no article text.
    "iframe",
    "object",
    "embed",
    "svg",
    "canvas",
    "video",
    "audio",
    # Content the page itself hides.
    "[hidden]",
    "[aria-hidden=true]",
    # Breadcrumb trails and comment threads.
    ".breadcrumb",
    ".breadcrumbs",
    "#comments",
    ".comments",
)
