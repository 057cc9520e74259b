"""Assay inside LangChain: its retrieval as a `BaseRetriever`, its answer path as a `Runnable`, its
index as a `langchain_chroma.Chroma` vector store, its encoder as `Embeddings`.

    >>> from assay.app.langchain import AssayRetriever, answer_runnable
    >>> retriever = AssayRetriever(k=4)                      # hybrid search over the Assay index
    >>> docs = retriever.invoke("Which countries supply rare earths?")
    >>> docs[0].metadata["article_id"], docs[0].metadata["char_start"]
    >>> chain = retriever | (lambda docs: "\\n\\n".join(d.page_content for d in docs))
    >>> answer_runnable().batch([{"question": "What is bastnaesite?"}])[0]["text"]

Documents carry Assay's metadata: article id, title, date, publisher, URL, chunk id, heading and
the passage's exact character span in the cleaned article text (so a citation can highlight it).
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import ConfigDict, Field

from ..ingest.config import Settings
from .retrieve import Engine, Filters
from .schema import Passage


def to_document(p: Passage) -> Document:
    """A retrieved passage as a LangChain Document (metadata: Assay's citation fields)."""
    return Document(
        page_content=p.text,
        id=p.chunk_id,
        metadata={
            "chunk_id": p.chunk_id, "article_id": p.article_id, "title": p.title, "heading": p.heading,
            "published": p.published, "publisher": p.publisher, "source_url": p.source_url,
            "char_start": p.char_start, "char_end": p.char_end, "score": p.score,
            "dense_rank": p.dense_rank, "lexical_rank": p.lexical_rank,
        },
    )


class AssayRetriever(BaseRetriever):
    """Assay's hybrid retrieval (dense + BM25, fused, de-duplicated) as a LangChain retriever."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    engine: Engine | None = None
    """The Assay engine to search; default: one over `Settings.from_env()`, made on first use."""
    k: int = 6
    filters: Filters | None = None
    settings: Settings | None = Field(default=None, exclude=True)

    def _engine(self) -> Engine:
        if self.engine is None:
            self.engine = Engine(self.settings or Settings.from_env())
        return self.engine

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [to_document(p) for p in self._engine().retrieve(query, k=self.k, filters=self.filters)]


def answer_runnable(engine: Engine | None = None, *, k: int = 6, llm: str | None = None) -> Runnable:
    """The answer path as a Runnable: {"question", "history"?} -> `Answer.to_dict()`.

    The same `answer()` as the chat, `assay ask` and `assay eval`; `.batch()` answers many.
    """
    from .answer import answer, default_engine

    def run(inputs: dict | str) -> dict:
        if isinstance(inputs, str):
            inputs = {"question": inputs}
        return answer(inputs["question"], list(inputs.get("history") or []), k=k, llm=llm, engine=engine or default_engine()).to_dict()

    return RunnableLambda(run, name="assay_answer")


class AssayEmbeddings(Embeddings):
    """Assay's encoder (same model, backend and precision as the index) as LangChain `Embeddings`."""

    def __init__(self, encoder=None, settings: Settings | None = None):
        from ..ingest.embed import Encoder

        self.encoder = encoder or Encoder.for_settings(settings or Settings.from_env())

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encoder.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encoder.encode([text])[0].tolist()


def vectorstore(engine: Engine | None = None, settings: Settings | None = None) -> Any:
    """`langchain_chroma.Chroma` over Assay's own chunk collection, with Assay's embeddings.

    Opens the existing collection only (it never creates one): a missing index raises the same
    "no index at PATH — run `assay ingest corpus/`" error as `assay ask`.
    """
    from langchain_chroma import Chroma

    engine = engine or Engine(settings or Settings.from_env())
    engine.index.chunks  # raises IndexMissing / IndexEmpty with what to do
    return Chroma(
        client=engine.index.client,
        collection_name=engine.settings.collection,
        embedding_function=AssayEmbeddings(engine.encoder),
        create_collection_if_not_exists=False,
    )
