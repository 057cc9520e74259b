"""The textbook LangChain RAG recipe, run on the same articles and questions as Assay, so that
`assay eval --baseline` can say how much Assay's retrieval adds.

The recipe, as LangChain's tutorials write it: the raw file text, `RecursiveCharacterTextSplitter`
(1,000 characters, 200 overlap), `HuggingFaceEmbeddings` of the same packaged model, a
`langchain_chroma.Chroma` store, and `similarity_search(query, k)`. Only retrieval is compared,
under the same protocol as Assay's own rows: the same standalone query (Assay's follow-up
rewrite), the same k, hit@5 and MRR from the same metric functions.

Why Assay does not chunk with langchain-text-splitters itself: its splitter must keep every chunk
an exact slice of the cleaned article text (citations highlight `text[start:end]`), cut at
headings, blocks and sentences, and measure chunks with the model's own tokenizer so that nothing
is truncated; a character-count splitter cannot promise any of the three.
"""

from __future__ import annotations

import time
from pathlib import Path

from . import metrics as M

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200


def recipe_documents(inputs: list[str | Path], max_bytes: int) -> list:
    """One Document per article file: its raw text (PDFs: the extracted text), metadata.source = article id."""
    from langchain_core.documents import Document

    from ..ingest.article import LoadError
    from ..ingest.files import article_id, decode, iter_article_paths, read_bytes
    from ..ingest.load import load_article

    docs = []
    for path, root in iter_article_paths(inputs):
        try:
            if path.suffix.lower() == ".pdf":
                text = load_article(path, root, max_bytes=max_bytes).text
            else:
                text = decode(read_bytes(path, max_bytes), str(path))
        except LoadError:
            continue
        docs.append(Document(page_content=text, metadata={"source": article_id(path, root)}))
    return docs


def langchain_recipe(inputs: list[str | Path], questions, settings, workdir: str | Path, *, k: int = 6, hit_k: int = 5) -> dict:
    """hit@hit_k and MRR (over k results) of the textbook recipe over `inputs` for the answerable `questions`."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from ..app import rewrite
    from ..ingest.config import offline_env, quiet_env
    from ..ingest.embed import resolve_model_path

    t0 = time.perf_counter()
    quiet_env()
    offline_env()
    docs = recipe_documents(inputs, int(settings.max_file_mb * 1024 * 1024))
    splits = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP).split_documents(docs)
    embeddings = HuggingFaceEmbeddings(
        model_name=resolve_model_path(settings.model),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True},
    )
    client = chromadb.PersistentClient(path=str(workdir), settings=ChromaSettings(anonymized_telemetry=False))
    store = Chroma.from_documents(splits, embeddings, client=client, collection_name="langchain-recipe")
    hits, mrrs = [], []
    for q in questions:
        if not q.answerable:
            continue
        query = rewrite.standalone(q.question, list(q.history))
        sources = [d.metadata["source"] for d in store.similarity_search(query, k=k)]
        hits.append(M.hit_at_k(sources, q.sources, hit_k))
        mrrs.append(M.mrr(sources, q.sources))
    return {
        "recipe": f"RecursiveCharacterTextSplitter({CHUNK_SIZE}, {CHUNK_OVERLAP}) + HuggingFaceEmbeddings + Chroma, top-{k}",
        "n": len(hits), "hit_at_k": sum(hits) / len(hits) if hits else None, "mrr": sum(mrrs) / len(mrrs) if mrrs else None,
        "k": k, "articles": len(docs), "chunks": len(splits), "seconds": round(time.perf_counter() - t0, 2),
    }
