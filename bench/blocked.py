"""The reconcile baseline a competent user writes: a date-blocked fuzzy matcher.

Platform episodes are taken platform by platform (the publisher's feed first); each joins
the cluster whose title scores best with rapidfuzz (`process.extractOne`,
`fuzz.token_sort_ratio` on `utils.default_process`ed titles, cut-off 90) among the clusters
published within a day of it that hold no episode of its platform yet, or starts a new one.
In memory: it reads the rows from the archive but writes nothing back.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

from rapidfuzz import fuzz, process, utils

CUTOFF = 90
WINDOW = 1  # days either side


def blocked_match(path: Path) -> dict[int, int]:
    """Platform episode row id -> cluster number, for every platform episode in the archive."""
    connection = sqlite3.connect(path)
    rows = connection.execute(
        "SELECT id, platform, title, published FROM platform_episodes "
        "ORDER BY platform != 'rss', platform, id").fetchall()
    connection.close()
    clusters_by_day: dict[int, list[int]] = defaultdict(list)
    titles: list[str] = []  # cluster -> processed title of its first episode
    platforms: list[set[str]] = []
    assigned: dict[int, int] = {}
    for row_id, platform, title, published in rows:
        clean = utils.default_process(title or "")
        day = date.fromisoformat(published[:10]).toordinal() if published else 0
        candidates = {c: titles[c]
                      for d in range(day - WINDOW, day + WINDOW + 1)
                      for c in clusters_by_day.get(d, ())
                      if platform not in platforms[c]}
        best = process.extractOne(clean, candidates, scorer=fuzz.token_sort_ratio,
                                  processor=None, score_cutoff=CUTOFF) if candidates else None
        if best is None:
            cluster = len(titles)
            titles.append(clean)
            platforms.append(set())
            clusters_by_day[day].append(cluster)
        else:
            cluster = best[2]
        platforms[cluster].add(platform)
        assigned[row_id] = cluster
    return assigned


def truth(path: Path) -> dict[int, str]:
    """Row id -> the synthetic episode it was printed from (`<platform>-<n>` -> n)."""
    connection = sqlite3.connect(path)
    rows = connection.execute("SELECT id, episode_id FROM platform_episodes").fetchall()
    connection.close()
    return {row_id: episode_id.rsplit("-", 1)[1] for row_id, episode_id in rows}


def ours(path: Path) -> dict[int, int]:
    """Row id -> canonical episode, as reconcile linked them."""
    connection = sqlite3.connect(path)
    rows = connection.execute(
        "SELECT platform_episode_id, episode_id FROM episode_links").fetchall()
    connection.close()
    return dict(rows)


def errors(assigned: dict[int, int], true: dict[int, str]) -> tuple[int, int]:
    """(wrongly merged, wrongly split): rows in a cluster whose majority is another episode,
    and clusters beyond the first that one episode was spread over. Unlinked rows count as
    split when their episode has a cluster elsewhere."""
    members: dict[int, Counter] = defaultdict(Counter)
    for row_id, cluster in assigned.items():
        members[cluster][true[row_id]] += 1
    merged = sum(sum(c.values()) - c.most_common(1)[0][1] for c in members.values())
    spread: dict[str, set[int]] = defaultdict(set)
    for row_id, cluster in assigned.items():
        spread[true[row_id]].add(cluster)
    missing = Counter(true[r] for r in true if r not in assigned)
    split = sum(len(c) - 1 for c in spread.values()) + sum(
        n for episode, n in missing.items() if spread.get(episode))
    return merged, split
