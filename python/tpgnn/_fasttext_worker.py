"""fastText skip-gram training in a process of its own: ``python -m tpgnn._fasttext_worker``.

fastText 0.9.3 reads memory it has not written. Served fresh ``mmap`` pages (zeros), as glibc
serves its 256 MB hash table by default, it trains well; served recycled heap memory, it
trains erratic vectors or stops with "Encountered NaN". A training process recycles its heap
on purpose (:func:`tpgnn._memory.reuse_freed_memory`), so fastText runs here, in a new
interpreter with a clean heap and glibc's default settings. This module imports neither
torch nor TVM, so the process starts in well under a second.

Arguments: ``CORPUS KEYS OUT DIM EPOCHS``. ``KEYS`` holds one node-type key a line; ``OUT``
receives float32 ``[len(keys), DIM]`` (``numpy.save``), zeros for keys absent from the corpus.
"""

from __future__ import annotations

import sys

import numpy as np


def skipgram_vectors(corpus: str, keys: list[str], dim: int, epochs: int) -> np.ndarray:
    """Vectors of ``keys`` from fastText skip-gram (character n-grams on) trained on ``corpus``."""
    import fasttext

    model = fasttext.train_unsupervised(
        corpus, model="skipgram", dim=dim, ws=5, epoch=epochs, minCount=1,
        minn=3, maxn=6, bucket=2_000_000, thread=1, verbose=0,
    )
    known = set(model.words)
    return np.stack([
        model.get_word_vector(key) if key in known else np.zeros(dim, dtype=np.float32)
        for key in keys
    ]).astype(np.float32)


def main(argv: list[str]) -> int:
    corpus, keys_path, out, dim, epochs = argv
    with open(keys_path) as f:
        keys = f.read().split("\n")
    np.save(out, skipgram_vectors(corpus, keys, int(dim), int(epochs)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
