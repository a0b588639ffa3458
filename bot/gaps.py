"""What the bulletins don't answer: a report for the people who write them.

With query logging off (the default) there is no question text to show: the report is the
per-day counts (answered, not found, 👎) and, for the questions not found, the documents and
tags that came closest, added up. With query logging on, the questions not found and the ones
given a 👎 are grouped by meaning — average-linkage clustering of their vectors on cosine
distance, cut at a distance threshold — largest group first, each labelled by its most
central question, with up to three examples and, for 👎 ones, what Steward quoted.

A question's vector is computed by the first report that needs it (not on the answer path,
where it would cost members time) and kept beside the question as float16, tagged with the
model that made it, so later reports encode only new questions. A trigger erases it with its
question, so the retention limit and ``steward forget`` erase both at once.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from bot.i18n import translate
from corpus.errors import StoreError
from corpus.migrations import Migration

if TYPE_CHECKING:
    from bot.app import Steward

# Cosine distance at which two groups of questions stop being merged (average linkage).
# Paraphrases of one question sit well inside it for each model; questions about different
# things in the same field sit outside. Multilingual-e5 cosines sit higher overall (as its
# confidence threshold does), so its cut is tighter.
GROUP_DISTANCE = 0.45
GROUP_DISTANCE_BY_MODEL = {"multilingual-e5-small": 0.12}
EXAMPLES = 3
MAX_QUESTIONS = 2000  # the newest ones, so a busy server's report stays quick
EXCERPT = 160

log = logging.getLogger(__name__)

# No foreign key: the trigger erases a vector with its question on any connection, also one
# that did not turn foreign keys on, and whatever deletes the question (retention, forget).
GAPS_MIGRATIONS = (Migration("gaps-0001-question-vectors", sql="""
CREATE TABLE IF NOT EXISTS query_vectors (
    log_id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS query_vectors_erased AFTER DELETE ON query_log
BEGIN
    DELETE FROM query_vectors WHERE log_id = OLD.id;
END;
"""),)


@dataclass
class DayCounts:
    day: str
    answered: int = 0
    not_found: int = 0
    thumbs_down: int = 0


@dataclass
class Quoted:
    doc_id: str
    title: str
    excerpt: str


@dataclass
class Group:
    label: str
    count: int
    not_found: int
    thumbs_down: int
    examples: list[str] = field(default_factory=list)
    quoted: list[Quoted] = field(default_factory=list)


@dataclass
class GapsReport:
    days: int
    since: str
    query_logging: bool
    per_day: list[DayCounts]
    closest_documents: list[tuple[str, str, int]]  # (doc id, title, questions)
    closest_tags: list[tuple[str, int]]
    groups: list[Group]

    def totals(self) -> DayCounts:
        return DayCounts(
            "total",
            sum(d.answered for d in self.per_day),
            sum(d.not_found for d in self.per_day),
            sum(d.thumbs_down for d in self.per_day),
        )

    def as_json(self) -> dict[str, object]:
        return {
            "days": self.days,
            "since": self.since,
            "query_logging": self.query_logging,
            "totals": {k: v for k, v in asdict(self.totals()).items() if k != "day"},
            "per_day": [asdict(d) for d in self.per_day],
            "closest_documents": [{"doc_id": d, "title": t, "questions": n}
                                  for d, t, n in self.closest_documents],
            "closest_tags": [{"tag": t, "questions": n} for t, n in self.closest_tags],
            "groups": [asdict(g) for g in self.groups],
        }

    def to_csv(self) -> str:
        """One row per logged group (logging on) or per closest document and tag (off)."""
        out = io.StringIO()
        writer = csv.writer(out)
        if self.query_logging:
            # One cell per question, so a spreadsheet shows them apart and nothing inside a
            # question (a "|", a comma) can split it; the label is the first example.
            writer.writerow(["group", "questions", "not_found", "thumbs_down", "label",
                             *(f"example_{n}" for n in range(2, EXAMPLES + 1)),
                             "quoted_doc_ids", "quoted_titles"])
            for n, g in enumerate(self.groups, start=1):
                others = [q for q in g.examples if q != g.label][:EXAMPLES - 1]
                writer.writerow([n, g.count, g.not_found, g.thumbs_down, g.label,
                                 *others, *[""] * (EXAMPLES - 1 - len(others)),
                                 " ".join(q.doc_id for q in g.quoted),
                                 " | ".join(q.title for q in g.quoted)])
        else:
            writer.writerow(["kind", "key", "title", "questions_not_found"])
            for doc_id, title, n in self.closest_documents:
                writer.writerow(["document", doc_id, title, n])
            for tag, n in self.closest_tags:
                writer.writerow(["tag", tag, "", n])
        return out.getvalue()


def gaps_report(steward: Steward, days: int = 30, now: dt.datetime | None = None) -> GapsReport:
    """The report over the last ``days`` days (today included)."""
    if days < 1:
        raise ValueError("days must be 1 or more")
    today = (now or dt.datetime.now(dt.UTC)).date()
    since = (today - dt.timedelta(days=days - 1)).isoformat()
    store = steward.store
    per_day: dict[str, DayCounts] = {}
    for day, outcome, count in store.execute(
            "SELECT day, outcome, count FROM daily_usage WHERE day >= ?", (since,)):
        setattr(per_day.setdefault(day, DayCounts(day)), outcome, count)
    for day, count in store.execute(
            "SELECT substr(at, 1, 10) AS day, COUNT(*) FROM feedback WHERE vote = -1 AND at >= ?"
            " GROUP BY day", (since,)):
        per_day.setdefault(day, DayCounts(day)).thumbs_down = count
    documents = []
    for doc_id, n in store.execute(
            "SELECT key, SUM(count) AS n FROM not_found_closest WHERE kind='doc' AND day >= ?"
            " GROUP BY key ORDER BY n DESC, key LIMIT 10", (since,)):
        info = store.document_info(doc_id)
        if info is not None:  # removed since: nothing to point the writers to
            documents.append((doc_id, info.title, int(n)))
    tags = [(tag, int(n)) for tag, n in store.execute(
        "SELECT key, SUM(count) AS n FROM not_found_closest WHERE kind='tag' AND day >= ?"
        " GROUP BY key ORDER BY n DESC, key LIMIT 10", (since,))]
    groups = _groups(steward, since) if steward.query_logging else []
    return GapsReport(days, since, steward.query_logging,
                      [per_day[d] for d in sorted(per_day)], documents, tags, groups)


def _groups(steward: Steward, since: str) -> list[Group]:
    try:
        steward.store.migrate(GAPS_MIGRATIONS)
        cached = "v.model, v.vector FROM query_log l LEFT JOIN query_vectors v ON v.log_id = l.id"
    except StoreError as err:  # a read-only or full disk: compute them all, keep none
        log.warning("question vectors not kept for the next report: %s", err)
        cached = "NULL, NULL FROM query_log l"
    rows = steward.store.execute(
        f"SELECT l.question, l.answered, l.vote, l.passage_ids, l.id, {cached}"
        " WHERE l.at >= ? AND (l.answered = 0 OR l.vote = -1) ORDER BY l.id DESC LIMIT ?",
        (since, MAX_QUESTIONS))
    if not rows:
        return []
    questions = [r[0] for r in rows]
    vectors = _unit(_vectors(steward, rows))
    labels = cluster(vectors, GROUP_DISTANCE_BY_MODEL.get(steward.config.index.model,
                                                          GROUP_DISTANCE))
    groups = []
    for label in set(labels):
        members = [i for i, g in enumerate(labels) if g == label]
        order = _by_centrality(vectors[members])
        ordered = [members[i] for i in order]
        quoted: dict[str, Quoted] = {}
        for i in ordered:
            if rows[i][2] == -1:
                for passage_id in json.loads(rows[i][3]):
                    if passage_id not in quoted and (q := _quoted(steward, passage_id)):
                        quoted[passage_id] = q
        examples = list(dict.fromkeys(questions[i] for i in ordered))[:EXAMPLES]
        groups.append(Group(
            label=questions[ordered[0]], count=len(members),
            not_found=sum(1 for i in members if not rows[i][1]),
            thumbs_down=sum(1 for i in members if rows[i][2] == -1),
            examples=examples, quoted=list(quoted.values())[:EXAMPLES]))
    return sorted(groups, key=lambda g: (-g.count, g.label))


def _vectors(steward: Steward, rows: Sequence[tuple]) -> np.ndarray:
    """The rows' question vectors: those kept by an earlier report with the same model and
    prefix, the others encoded now and kept (row: question, ..., log id, model, vector)."""
    settings = steward.config.encoder_settings()
    key = f"{settings.model}|{settings.query_prefix}"
    vectors: dict[int, np.ndarray] = {
        i: np.frombuffer(row[6], dtype=np.float16) for i, row in enumerate(rows)
        if row[5] == key and row[6]}
    missing = [i for i in range(len(rows)) if i not in vectors]
    if missing:
        fresh = steward.encoder.encode([settings.query_prefix + rows[i][0] for i in missing])
        vectors.update((i, v.astype(np.float16)) for i, v in zip(missing, fresh, strict=True))
        try:
            with steward.store.transaction() as conn:
                # Only while the question is still there: retention may have just erased it.
                conn.executemany(
                    "INSERT OR REPLACE INTO query_vectors(log_id, model, vector)"
                    " SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM query_log WHERE id = ?)",
                    [(rows[i][4], key, vectors[i].tobytes(), rows[i][4]) for i in missing])
        except StoreError as err:  # a full or read-only disk: the report is made either way
            log.warning("question vectors not kept for the next report: %s", err)
    dims = {len(v) for v in vectors.values()}
    if len(dims) > 1:  # a model reinstalled with another size under the same name
        fresh = steward.encoder.encode([settings.query_prefix + row[0] for row in rows])
        return np.asarray(fresh, dtype=np.float32)
    return np.stack([vectors[i] for i in range(len(rows))]).astype(np.float32)


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def cluster(unit: np.ndarray, max_distance: float) -> list[int]:
    """A group number per row of unit vectors: average-linkage clustering on cosine
    distance, cut where groups are further apart than ``max_distance``."""
    if len(unit) == 1:
        return [0]
    # Imported here: only a report with logged questions pays for loading scikit-learn.
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                    distance_threshold=max_distance)
    return [int(g) for g in model.fit_predict(unit.astype(np.float64))]


def _by_centrality(unit: np.ndarray) -> Sequence[int]:
    """Indexes from the most central question (highest mean cosine to the others) out."""
    mean = (unit @ unit.T).mean(axis=1)
    return list(np.argsort(-mean, kind="stable"))


def _quoted(steward: Steward, passage_id: str) -> Quoted | None:
    passage = steward.store.passage(passage_id)
    if passage is None:
        return None
    info = steward.store.document_info(passage.doc_id)
    text = " ".join(passage.text.split())
    excerpt = text if len(text) <= EXCERPT else text[:EXCERPT - 1].rstrip() + "…"
    return Quoted(passage.doc_id, info.title if info else passage.doc_id, excerpt)


def report_lines(report: GapsReport, lang: str | None = None) -> list[str]:
    """The report as text lines in ``lang`` (the CLI prints them; Discord sends them)."""
    def t(key: str, **values: object) -> str:
        return translate(key, lang, **values)

    total = report.totals()
    lines = [t("gaps.title", days=report.days, since=report.since),
             t("gaps.totals", answered=total.answered, not_found=total.not_found,
               thumbs_down=total.thumbs_down)]
    if not report.per_day:
        lines.append(t("gaps.no_questions"))
        return lines
    lines.append(t("gaps.per_day_header"))
    lines += [t("gaps.per_day", day=d.day, answered=d.answered, not_found=d.not_found,
                thumbs_down=d.thumbs_down) for d in report.per_day]
    if report.closest_documents:
        lines.append(t("gaps.closest_documents"))
        lines += [t("gaps.closest_document", title=title, doc_id=doc_id, count=n)
                  for doc_id, title, n in report.closest_documents]
    if report.closest_tags:
        lines.append(t("gaps.closest_tags", tags=", ".join(f"{tag} ({n})"
                                                         for tag, n in report.closest_tags)))
    if not report.query_logging:
        lines.append(t("gaps.logging_off"))
        return lines
    if not report.groups:
        lines.append(t("gaps.no_groups"))
    for n, group in enumerate(report.groups, start=1):
        lines.append(t("gaps.group", n=n, label=group.label, count=group.count,
                       not_found=group.not_found, thumbs_down=group.thumbs_down))
        lines += [t("gaps.example", question=q) for q in group.examples if q != group.label]
        lines += [t("gaps.quoted", title=q.title, doc_id=q.doc_id, excerpt=q.excerpt)
                  for q in group.quoted]
    return lines
