"""Name clusters offline with CLIP itself: the vocabulary terms most distinctive for a cluster's frames.

Every frame spreads a unit of probability over the vocabulary (a softmax of CLIP's image-text
logits, as in zero-shot classification). A term's weight in a cluster is its mean probability
over the cluster's frames; its weight in the collection is the mean over all frames clustered.
As c-TF-IDF does for words and topics, a term is chosen for being both frequent in the cluster
and much more frequent there than overall: score = tf · log(tf / background). So a term that
suits every frame ("a photo") scores nothing, and each cluster gets what sets it apart.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import xxhash

from vindex.embedding.spec import random_weights_warning
from vindex.errors import VindexError, os_reason
from vindex.results import StatusHook, count

VOCABULARY_FILE = Path(__file__).parent.parent / "vocabulary.txt"
PROMPT = "a photo of {}."
MAX_TERMS = 3
# A second or third term joins the name only if it scores at least this share of the first.
SECOND_TERM_SHARE = 0.5
# Terms whose text vectors are closer than this say the same thing twice; keep only the better.
SAME_MEANING_COSINE = 0.9
SEPARATOR = ", "


def load_vocabulary(path: str | Path | None = None) -> list[str]:
    """The terms of a vocabulary file (one per line; blank lines and # comments skipped)."""
    source = Path(path) if path else VOCABULARY_FILE
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise VindexError(f"cannot read the vocabulary {source}: {os_reason(error)}") from None
    terms: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        term = " ".join(line.split())
        if not term or term.startswith("#"):
            continue
        if "," in term:
            raise VindexError(f"{source} line {number}: a term cannot contain a comma (names join terms with commas)")
        if term not in terms:
            terms.append(term)
    if len(terms) < 2:
        raise VindexError(f"the vocabulary {source} needs at least 2 terms, one per line")
    return terms


def vocabulary_key(weights: str, terms: list[str]) -> str:
    """Identifies the text vectors of these terms under these weights (for the index's cache)."""
    return xxhash.xxh3_64_hexdigest("\n".join([weights, PROMPT, *terms]).encode())


def embed_terms(embedder, terms: list[str], batch_size: int = 64) -> np.ndarray:
    """(len(terms), dim) unit text vectors of the prompted terms."""
    prompts = [PROMPT.format(term) for term in terms]
    return np.concatenate([embedder.embed_texts(prompts[i : i + batch_size]) for i in range(0, len(prompts), batch_size)])


def logit_scale(embedder) -> float:
    """The temperature CLIP was trained with (100 for the released models)."""
    scale = getattr(getattr(embedder, "model", None), "logit_scale", None)
    try:
        return float(scale.detach().exp()) if scale is not None else 100.0
    except (TypeError, AttributeError):
        return 100.0


def contrast_names(
    terms: list[str],
    term_vectors: np.ndarray,
    frames: Iterable[tuple[np.ndarray, np.ndarray]],
    clusters: int,
    scale: float,
) -> list[str]:
    """A name for each of `clusters` clusters from batches of (cluster position per frame, frame vectors).

    Positions are 0..clusters-1, or -1 for frames that count towards the collection only (noise).
    """
    from scipy import sparse

    sums = np.zeros((clusters, len(terms)))
    counts = np.zeros(clusters)
    background = np.zeros(len(terms))
    total = 0
    for positions, vectors in frames:
        probabilities = _softmax(scale * (vectors @ term_vectors.T))
        background += probabilities.sum(axis=0)
        total += len(probabilities)
        member = positions >= 0
        if member.any():
            rows = positions[member]
            onehot = sparse.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))), shape=(clusters, len(rows)))
            sums += onehot @ probabilities[member]
            counts += np.bincount(rows, minlength=clusters)
    if total == 0:
        return [""] * clusters
    frequency = sums / np.maximum(counts, 1)[:, None]
    overall = np.maximum(background / total, 1e-12)
    lift = np.log(np.maximum(frequency, 1e-12) / overall)
    scores = frequency * lift
    similar = term_vectors @ term_vectors.T
    candidates = [_candidates(scores[c], lift[c], frequency[c], similar) for c in range(clusters)]
    return _distinct_names(terms, scores, candidates)


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=1, keepdims=True)


def _candidates(scores: np.ndarray, lift: np.ndarray, frequency: np.ndarray, similar: np.ndarray) -> list[int]:
    """Distinctive terms of one cluster, best first, without near-synonyms of better ones."""
    chosen: list[int] = []
    for term in np.argsort(-scores, kind="stable"):
        if lift[term] <= 0 or len(chosen) == 2 * MAX_TERMS:
            break
        if all(similar[term, other] < SAME_MEANING_COSINE for other in chosen):
            chosen.append(int(term))
    # A cluster holding (almost) everything has nothing distinctive: name it by its commonest term.
    return chosen or [int(np.argmax(frequency))]


def _distinct_names(terms: list[str], scores: np.ndarray, candidates: list[list[int]]) -> list[str]:
    """1-3 terms per cluster; clusters that would share a name take further terms where they have them."""
    lengths = []
    for cluster, order in enumerate(candidates):
        best = scores[cluster, order[0]]
        strong = [t for t in order[1:MAX_TERMS] if best > 0 and scores[cluster, t] >= SECOND_TERM_SHARE * best]
        lengths.append(1 + len(strong))

    def name(cluster: int) -> tuple[int, ...]:
        return tuple(candidates[cluster][: lengths[cluster]])

    for _ in range(MAX_TERMS):
        groups: dict[tuple[int, ...], list[int]] = {}
        for cluster in range(len(candidates)):
            groups.setdefault(name(cluster), []).append(cluster)
        grew = False
        for members in groups.values():
            if len(members) < 2:
                continue
            for cluster in members:
                if lengths[cluster] < min(MAX_TERMS, len(candidates[cluster])):
                    lengths[cluster] += 1
                    grew = True
        if not grew:
            break
    names = [list(name(cluster)) for cluster in range(len(candidates))]
    # Still equal at full length: later (smaller) clusters swap their last term for a further candidate.
    seen: set[tuple[int, ...]] = set()
    for cluster, chosen in enumerate(names):
        for spare in candidates[cluster][len(chosen):]:
            if tuple(chosen) not in seen:
                break
            chosen[-1] = spare
        seen.add(tuple(chosen))
    return [SEPARATOR.join(terms[t] for t in chosen) for chosen in names]


def frame_batches(
    batches: Iterator, positions_of: dict[str, int], batch_column: str = "video_id"
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(cluster position, vector) batches from Arrow record batches of (video_id, vector).

    Videos missing from `positions_of` (not part of this run) are left out.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from vindex.store import vectors_of

    ids = pa.array(list(positions_of), pa.string())
    values = np.fromiter(positions_of.values(), dtype=np.int64, count=len(positions_of))
    for batch in batches:
        where = pc.fill_null(pc.index_in(batch.column(batch_column), value_set=ids), -1).to_numpy()
        known = where >= 0
        if known.any():
            yield values[where[known]], vectors_of(batch.column("vector"))[known]


def name_clusters(store, load_embedder: Callable, terms: list[str], clusters: list[int], ids: np.ndarray,
                  run_ids: list[str], say: StatusHook, notes: list[str]) -> dict[int, str]:
    """A name for each cluster id in `clusters` (`ids`: the cluster of each video in `run_ids`).

    The terms' text vectors are cached in the index per model and vocabulary. "cluster N" when the
    model cannot be loaded (the run still counts, with a note saying why).
    """
    fallback = {cluster: f"cluster {cluster}" for cluster in clusters}
    if not clusters:
        return fallback
    meta = store.meta
    untrained = random_weights_warning(meta.weights, "cluster names")
    if untrained:
        logging.getLogger("vindex").warning(untrained)
    key = vocabulary_key(f"{meta.model}:{meta.weights}", terms)
    cached = store.cached_terms(key)
    if cached is not None:
        _, term_vectors, scale = cached
    else:
        say(f"embedding {len(terms)} vocabulary terms with {meta.model} (once per index and vocabulary)")
        try:
            embedder = load_embedder()
        except VindexError as error:
            note = f"clusters left unnamed: could not load the model ({error})"
            notes.append(note)
            say(note)
            return fallback
        term_vectors, scale = embed_terms(embedder, terms), logit_scale(embedder)
        store.cache_terms(key, terms, term_vectors, scale)
    say(f"naming {count(len(clusters), 'cluster')} from {len(terms)} vocabulary terms")
    slot = {cluster: i for i, cluster in enumerate(clusters)}
    positions_of = {video: slot.get(int(cluster), -1) for video, cluster in zip(run_ids, ids)}
    batches = store.frame_vector_batches(1 << 15)
    names = contrast_names(terms, term_vectors, frame_batches(batches, positions_of), len(clusters), scale)
    return {cluster: names[slot[cluster]] or fallback[cluster] for cluster in clusters}
