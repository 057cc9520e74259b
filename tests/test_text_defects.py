"""Text defects the loader and splitter must not let through (the answer writer quotes sentences verbatim).

One test per defect on a small inline text that reproduces it, then a scan of every shipped article with
the plain checks of tests/defects.py (which a later test runs over the development answers too).
No model: split_article runs with a whitespace tokenizer.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assay.ingest.article import Article, Block
from assay.ingest.config import SPLITTER_VERSION
from assay.ingest.load import load_article
from assay.ingest.split import TokenCounter, sentence_spans, split_article
from tests.defects import article_defects, furniture_like, row_defects, sentence_defects
from tests.test_load import _assert_clean

ROOT = Path(__file__).resolve().parents[1]


def _load(tmp_path: Path, name: str, text: str) -> Article:
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    art = load_article(f)
    _assert_clean(art)
    return art


def _blocks(art: Article) -> list[tuple[str, str]]:
    return [(b.kind, art.text[b.start : b.end]) for b in art.blocks]


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


class _WordTokenizer:
    """Whitespace "word pieces" with offsets: enough for split_article without a model."""

    def __call__(self, text, add_special_tokens=True, return_offsets_mapping=False, **_):
        def enc(t: str):
            spans = [m.span() for m in re.finditer(r"\S+", t)]
            return [0] * (len(spans) + 2 * add_special_tokens), spans

        if isinstance(text, list):
            return {"input_ids": [enc(t)[0] for t in text]}
        ids, spans = enc(text)
        return {"input_ids": ids, **({"offset_mapping": spans} if return_offsets_mapping else {})}


# ---------------------------------------------------------------- 1. abbreviations and legal citations


def test_sentences_do_not_end_at_abbreviations_or_inside_citations():
    text = ("By the authority of the Trade Expansion Act of 1962, as amended (19 U.S.C. 1862), it is hereby ordered. "
            "Imports are adjusted under 19 U.S.C. 1862(b)) and Sec. 3 of Executive Order No. 14017 (E.O. 14017). "
            "Funds come from Pub. L. 117-58, 135 Stat. 429, as noted at 87 Fed. Reg. 10381 and 40 C.F.R. 1500.1 "
            "et seq. "
            "The Act covers minerals, e.g. lithium, i.e. the metals. MP Materials Inc. signed with Acme Co. and "
            "Vulcan Corp. (the buyers) and Lynas Ltd. of Australia. The U.S. Department of Energy agrees. "
            "Leaders met in Washington, D.C. The two leaders spoke. See 42 U.S.C. 4321 et seq. (NEPA) and id. 396(e). "
            "After Roe v. Wade was overturned—Dr. Cooper left. 1. Securing supply: The Participants act.")
    assert _sentences(text) == [
        "By the authority of the Trade Expansion Act of 1962, as amended (19 U.S.C. 1862), it is hereby ordered.",
        "Imports are adjusted under 19 U.S.C. 1862(b)) and Sec. 3 of Executive Order No. 14017 (E.O. 14017).",
        "Funds come from Pub. L. 117-58, 135 Stat. 429, as noted at 87 Fed. Reg. 10381 and 40 C.F.R. 1500.1 et seq.",
        "The Act covers minerals, e.g. lithium, i.e. the metals.",
        "MP Materials Inc. signed with Acme Co. and Vulcan Corp. (the buyers) and Lynas Ltd. of Australia.",
        "The U.S. Department of Energy agrees.",
        "Leaders met in Washington, D.C.",  # an abbreviation that does end its sentence
        "The two leaders spoke.",
        "See 42 U.S.C. 4321 et seq. (NEPA) and id. 396(e).",
        "After Roe v. Wade was overturned—Dr. Cooper left.",
        "1. Securing supply: The Participants act.",
    ]
    # The checks of tests/defects.py see the old cut.
    assert sentence_defects("including the Trade Expansion Act of 1962, as amended (19 U.S.C.")
    assert sentence_defects("1862(b)), the Secretary of Commerce shall consider:")
    assert not sentence_defects("Leaders met in Washington, D.C.", next_text="The two leaders spoke.")
    assert sentence_defects("Leaders met in Washington, D.C.", next_text="20500 is the ZIP code.")


def test_loaded_eo_paragraph_keeps_its_citation(tmp_path):
    art = _load(tmp_path, "eo.md", "By the authority vested in me as President by the Constitution and the\n"
                "laws of the United States of America, including the Trade Expansion Act\n"
                "of 1962, as amended (19 U.S.C. 1862) (the “Act”), it is hereby\nordered:\n")
    assert _sentences(art.text) == [art.text]


# ---------------------------------------------------------------- 2. sub-clauses


EO = """---
title: Order
---

     <span style="text-decoration: underline">Sec</span>.
<span style="text-decoration: underline">2</span>.
<span style="text-decoration: underline">Definitions</span>.  As used in
this order:  
        (a)  The term “critical minerals” means those minerals included
in the list published pursuant to section 7002(c) of the Energy Act of 2020
(30 U.S.C. 1606).  
        (b)  The term “derivative products” includes all goods that
incorporate processed critical minerals.  
  
     <span style="text-decoration: underline">Sec</span>.
<span style="text-decoration: underline">3</span>.
 <span style="text-decoration: underline">Section 232
Investigation</span>.  (a)  The Secretary of Commerce shall initiate an
investigation.  
     (b)  In conducting the investigation described in subsection (a) of
this section, the Secretary shall assess other relevant factors, including:  
             (i)   identification of imports;  
             (ii)  the foreign sources of imports; and  
             (iii) an analysis of the distortive effects.  
     (c)  The Secretary shall report within 180 days.  
"""


def test_sub_clauses_become_items(tmp_path):
    art = _load(tmp_path, "eo.md", EO)
    assert _blocks(art) == [
        ("heading", "Sec. 2. Definitions."),
        ("para", "As used in this order:"),
        ("item", "(a) The term “critical minerals” means those minerals included in the list published "
                 "pursuant to section 7002(c) of the Energy Act of 2020 (30 U.S.C. 1606)."),
        ("item", "(b) The term “derivative products” includes all goods that incorporate processed critical minerals."),
        ("heading", "Sec. 3. Section 232 Investigation."),
        ("item", "(a) The Secretary of Commerce shall initiate an investigation."),
        ("item", "(b) In conducting the investigation described in subsection (a) of this section, the Secretary "
                 "shall assess other relevant factors, including:"),
        ("item", "(i) identification of imports;"),
        ("item", "(ii) the foreign sources of imports; and"),
        ("item", "(iii) an analysis of the distortive effects."),
        ("item", "(c) The Secretary shall report within 180 days."),
    ]
    assert "minerals.\n(a) The Secretary" not in art.text and "including:\n(i) identification" in art.text


def test_only_sequential_markers_at_clause_starts_are_split(tmp_path):
    art = _load(tmp_path, "notes.md", "The Secretary shall act under subsection (a) of section 7002(c) and "
                "report (b) below; the review in (c) follows later in the year.\n\n"
                "(a) The one clause of this paragraph stands alone and has no (b) after it.\n\n"
                "The options are: (1) build a refinery; (3) buy the ore abroad.\n\n"
                "(h) The Secretary of Veterans Affairs shall: (i) provide digital services; and (ii) provide "
                "support. (i) The Secretary of Homeland Security shall report. (j) The Director shall plan.\n")
    assert [k for k, _t in _blocks(art)][:3] == ["para", "para", "para"]
    assert [t for k, t in _blocks(art) if k == "item"] == [
        "(h) The Secretary of Veterans Affairs shall:", "(i) provide digital services; and", "(ii) provide support.",
        "(i) The Secretary of Homeland Security shall report.", "(j) The Director shall plan."]


# ---------------------------------------------------------------- 3. headings glued to text


def test_headings_are_never_run_into_the_text_below(tmp_path):
    nbsp = "\u00a0"
    art = _load(tmp_path, "ttc.md", f"**<u>II. Key Outcomes of the Sixth TTC Ministerial Meeting</u>   **\n{nbsp} \n"
                "The United States will keep working with the European Union on critical minerals.\n\n"
                "**Key Outcomes**  \nThe United States will fund two new refineries this year.\n\n"
                "**<u>Coordinating Supply Chains and Accelerating Market Development and\n"
                "Investment to Support the Clean Energy Economy</u>**  \n"
                "The Compact affirms our commitment to deeper cooperation.\n\n"
                "I. Introduction\n\n"
                "Sec. 8. * *Protecting America’s National Security.(a) The Secretary of Energy is directed to act.\n\n"
                "Section 1. Purpose*.* From this day forward, the policy is set.\n\n"
                "     But processed critical minerals and their derivative products face\n"
                "significant global supply chain vulnerabilities.\n\n"
                "**Joint Initiatives with Jamaica** **and Kenya  \n**  \nThe United States and the European Union "
                "support secure connectivity.\n\n"
                "*Federal Commitments*  \nThe federal government recognizes the importance of funding.\n")
    assert _blocks(art) == [
        ("heading", "II. Key Outcomes of the Sixth TTC Ministerial Meeting"),
        ("para", "The United States will keep working with the European Union on critical minerals."),
        ("heading", "Key Outcomes"),
        ("para", "The United States will fund two new refineries this year."),
        ("heading", "Coordinating Supply Chains and Accelerating Market Development and Investment to Support the "
                    "Clean Energy Economy"),
        ("para", "The Compact affirms our commitment to deeper cooperation."),
        ("heading", "I. Introduction"),
        ("heading", "Sec. 8. Protecting America’s National Security."),
        ("para", "(a) The Secretary of Energy is directed to act."),
        ("heading", "Section 1. Purpose."),
        ("para", "From this day forward, the policy is set."),
        ("para", "But processed critical minerals and their derivative products face significant global supply "
                 "chain vulnerabilities."),
        ("heading", "Joint Initiatives with Jamaica and Kenya"),  # bold that markdown could not pair
        ("para", "The United States and the European Union support secure connectivity."),
        ("heading", "Federal Commitments"),  # an italic title line
        ("para", "The federal government recognizes the importance of funding."),
    ]
    headings = [t for k, t in _blocks(art) if k == "heading"]
    assert sentence_defects("Key Outcomes The United States will fund two new refineries.", headings)
    assert not sentence_defects("Key Outcomes for industry are listed below.", headings)


def test_a_bold_run_in_title_leads_its_text_and_is_never_a_sentence_of_its_own(tmp_path):
    art = _load(tmp_path, "bil.md", "# One Year\n\n"
                "-   **Mapping Critical Minerals.** DOI invested over $74 million for the Earth Mapping Resources Initiative.\n"
                "-   **The plant will open.** It will employ 300 people.\n\n"
                "**Accelerating transmission projects.** Eleven projects were approved.\n")
    texts = [t for _k, t in _blocks(art)]
    assert "Mapping Critical Minerals: DOI invested over $74 million for the Earth Mapping Resources Initiative." in texts
    assert "Accelerating transmission projects: Eleven projects were approved." in texts
    assert "The plant will open. It will employ 300 people." in texts  # a bold sentence stays a sentence
    assert "Mapping Critical Minerals." not in [s for t in texts for s in _sentences(t)]


def test_plain_text_heading_stays_a_heading(tmp_path):
    art = _load(tmp_path, "post.txt", "Key Outcomes\nThe United States will fund two new refineries this year, "
                "the department said on Tuesday.\n\nSec. 3. Section 232 Investigation. (a) The Secretary of Commerce "
                "shall initiate an investigation. (b) The Secretary shall report.\n")
    assert _blocks(art)[:2] == [("heading", "Key Outcomes"), ("para", "The United States will fund two new "
                                "refineries this year, the department said on Tuesday.")]
    assert _blocks(art)[2:] == [("heading", "Sec. 3. Section 232 Investigation."),
                                ("item", "(a) The Secretary of Commerce shall initiate an investigation."),
                                ("item", "(b) The Secretary shall report.")]


def test_a_section_starting_inside_a_paragraph_gets_its_heading(tmp_path):
    art = _load(tmp_path, "eo.md", "(b) The term “underserved communities” refers to populations sharing a "
                "characteristic, as in the definition of “equity.” Sec. 7. General Provisions. (a) Nothing in this "
                "order shall be construed to impair the authority of an agency. (b) This order shall be implemented "
                "consistent with applicable law.\n")
    assert _blocks(art) == [
        ("para", "(b) The term “underserved communities” refers to populations sharing a characteristic, as in the "
                 "definition of “equity.”"),
        ("heading", "Sec. 7. General Provisions."),
        ("item", "(a) Nothing in this order shall be construed to impair the authority of an agency."),
        ("item", "(b) This order shall be implemented consistent with applicable law."),
    ]
    assert sentence_defects("Sec. 7. General Provisions.")


def test_a_sentence_after_a_section_number_is_not_a_heading(tmp_path):
    art = _load(tmp_path, "eo.md", "Sec. 5. This order is effective immediately and stays in force.\n\n"
                "C. Kirabo Jackson, Member of the Council of Economic Advisers\n")
    assert [k for k, _t in _blocks(art)] == ["para", "para"]


# ---------------------------------------------------------------- 4. tables


USGS = """| Salient Statistics-United States:     | 2020   | 2024 e   |
|---------------------------------------|--------|----------|
| Production: e                         |        |          |
| Mineral concentrates 2                | 39,000 | 45,000   |
| Imports: e, 4                         |        |          |
| Compounds                             | 6,510  | 8,000    |
| Metals:                               |        |          |
| Ferrocerium, alloys                   | 270    | 220      |
| Exports: e, 4                         |        |          |
| Metals:                               |        |          |
| Ferrocerium, alloys                   | 626    | 1,100    |
| Consumption, apparent, compounds 5    | 6,490  | 6,600    |
| Price, average, dollars per kilogram: 6 |      |          |
| Terbium oxide, 99.99% minimum         | 670    | 810      |
| Employment, mine and mill, number     | 185    | 570      |
| Net import reliance 7 as a percentage: 8 |     |          |
| Mineral concentrates                  | E      | E        |

|               | Mine production e | Mine production e | Reserves 11  |
|---------------|-------------------|-------------------|--------------|
|               | 2023              | 2024              |              |
| China         | 14 255,000        | 14 270,000        | 44,000,000   |
| Australia     | 12 16,000         | 12 13,000         | 13 5,700,000 |

| Project       | Phase 2 | Unit 5 |
|---------------|---------|--------|
| Refinery 12   | 2024    | 40     |
"""


def test_table_rows_drop_footnote_markers_and_keep_their_own_heading(tmp_path):
    art = _load(tmp_path, "usgs.md", USGS)
    rows = [t for k, t in _blocks(art) if k == "row"]
    assert rows == [
        "Production — Mineral concentrates: 2020: 39,000; 2024: 45,000",
        "Imports — Compounds: 2020: 6,510; 2024: 8,000",
        "Imports — Metals — Ferrocerium, alloys: 2020: 270; 2024: 220",
        "Exports — Metals — Ferrocerium, alloys: 2020: 626; 2024: 1,100",
        "Consumption, apparent, compounds: 2020: 6,490; 2024: 6,600",  # not an export metal
        "Price, average, dollars per kilogram — Terbium oxide, 99.99% minimum: 2020: 670; 2024: 810",
        "Employment, mine and mill, number: 2020: 185; 2024: 570",  # not a price
        "Net import reliance as a percentage — Mineral concentrates: 2020: E; 2024: E",  # "E" is a value
        "China: Mine production 2023: 255,000; Mine production 2024: 270,000; Reserves: 44,000,000",
        "Australia: Mine production 2023: 16,000; Mine production 2024: 13,000; Reserves: 5,700,000",
        "Refinery 12: Phase 2: 2024; Unit 5: 40",  # no footnotes in this table: its numbers stay
    ]
    assert all(not row_defects(r) for r in rows[:-1])
    assert row_defects("China: Mine production e 2024: 14 270,000")


# ---------------------------------------------------------------- 5. furniture


MEMO = """MEMORANDUM FOR THE SECRETARY OF STATE  
THE SECRETARY OF THE TREASURY  
THE DIRECTOR OF THE OFFICE OF MANAGEMENT AND BUDGET
\u00a0
SUBJECT:\u00a0 Simplifying the Funding of Energy Infrastructure
\u00a0
Throughout my Administration, we have acted to make the Federal Government more efficient.
On April 15, 2025, the heads of agencies shall share information with the Chair.
\u00a0
THE PRESIDENT: Thank you all for coming today to talk about minerals.

DEFENSE AND SECURITY COOPERATION

Signed in Washington, District of Columbia this twentieth day of October, two thousand and twenty-five.

For the Government of the United States of America:

Donald J. Trump

President

                              DONALD J. TRUMP  

THE WHITE HOUSE,  
    April 15, 2025.

ANNEX

The People’s Republic of China The Special Administrative Region of Hong Kong
"""


def test_memo_headers_and_signatures_are_furniture(tmp_path):
    art = _load(tmp_path, "memo.md", MEMO)
    assert _blocks(art) == [
        ("furniture", "MEMORANDUM FOR THE SECRETARY OF STATE THE SECRETARY OF THE TREASURY THE DIRECTOR OF THE "
                      "OFFICE OF MANAGEMENT AND BUDGET"),
        ("furniture", "SUBJECT: Simplifying the Funding of Energy Infrastructure"),
        ("para", "Throughout my Administration, we have acted to make the Federal Government more efficient. "
                 "On April 15, 2025, the heads of agencies shall share information with the Chair."),
        ("para", "THE PRESIDENT: Thank you all for coming today to talk about minerals."),
        ("para", "DEFENSE AND SECURITY COOPERATION"),
        ("para", "Signed in Washington, District of Columbia this twentieth day of October, two thousand and "
                 "twenty-five."),
        ("furniture", "For the Government of the United States of America:"),
        ("furniture", "Donald J. Trump"),
        ("furniture", "President"),
        ("furniture", "DONALD J. TRUMP"),
        ("furniture", "THE WHITE HOUSE, April 15, 2025."),
        ("para", "ANNEX"),  # after the signature: the order's annex, text again
        ("para", "The People’s Republic of China The Special Administrative Region of Hong Kong"),
    ]
    for kind, text in _blocks(art):
        assert furniture_like(text) <= (kind == "furniture")  # the checks never see a paragraph as furniture
    # Chunks carry the article offsets of the furniture inside them, and still contain (index) it.
    counter = TokenCounter(_WordTokenizer(), 256)
    chunks = split_article(art, counter, chunk_tokens=20)
    furniture = [(b.start, b.end) for b in art.blocks if b.kind == "furniture"]
    for c in chunks:
        assert c.furniture == [(max(a, c.start), min(b, c.end)) for a, b in furniture if a < c.end and b > c.start]
        assert all(c.start <= a < b <= c.end for a, b in c.furniture)
    assert sorted({span for c in chunks for span in c.furniture}) == furniture
    assert not any(c.furniture for c in chunks if "Throughout my Administration" in c.text and "SUBJECT" not in c.text)


def test_furniture_is_conservative():
    for text in ("DONALD J. TRUMP", "THE WHITE HOUSE, January 20, 2025.", "MEMORANDUM FOR THE ATTORNEY GENERAL",
                 "SUBJECT: Delegation of Authority", "4:19 P.M. EST", "October 20, 2025"):
        assert furniture_like(text), text
    for text in ("On April 15, 2025, the President signed the order.", "THE PRESIDENT: Well, thanks, Gov.",
                 "DEFENSE AND SECURITY COOPERATION", "The White House said on Tuesday that talks went well."):
        assert not furniture_like(text), text


def test_chunks_without_furniture_have_an_empty_list():
    text = "Cerium is used in catalysts. Lanthanum is used in lenses."
    art = Article("a.txt", "/a.txt", text, [Block("para", 0, len(text))], {"title": "T"})
    assert [c.furniture for c in split_article(art, TokenCounter(_WordTokenizer(), 256))] == [[]]


# ---------------------------------------------------------------- 6. the index notices


def test_splitter_version_bumped_for_the_new_boundaries():
    assert int(SPLITTER_VERSION) >= 5  # 5: a chunk that starts inside a list keeps the list's lead-in as heading


# ---------------------------------------------------------------- the shipped articles


def _shipped(shared_dir: Path | None) -> list[Path]:
    dirs = [ROOT / "corpus", ROOT / "eval" / "articles"]
    if shared_dir is not None and (shared_dir / "corpus-extra").is_dir():
        dirs.append(shared_dir / "corpus-extra")
    return sorted(p for d in dirs for p in d.iterdir()
                  if p.suffix in (".md", ".txt", ".pdf", ".html") and p.name not in ("README.md", "LICENSE"))


@pytest.fixture(scope="module")
def shared_or_none():
    from tests.conftest import SHARED

    return SHARED if SHARED.is_dir() else None


def test_no_defects_in_any_shipped_article(shared_or_none):
    files = _shipped(shared_or_none)
    assert len(files) >= 30
    defects = []
    for path in files:
        art = load_article(path, root=path.parent)
        _assert_clean(art)
        defects += article_defects(art)
    assert not defects, "\n".join(defects[:40])


def test_the_real_examples_read_right():
    eo = load_article(ROOT / "corpus" / "wh_2025-04-15_eo_section232_processed_critical_minerals.md")
    blocks = _blocks(eo)
    assert ("heading", "Sec. 3. Section 232 Investigation.") in blocks
    assert ("item", "(ii) safeguards to avoid circumvention and any weakening of the section 232 measures;") in blocks
    assert ("furniture", "THE WHITE HOUSE April 15, 2025.") in blocks
    assert any(t.startswith("(d) In considering whether to make recommendations for action or inaction pursuant to "
                            "section 232(b) of the Act (19 U.S.C. 1862(b)), the Secretary") for _k, t in blocks)
    usgs = load_article(ROOT / "corpus" / "usgs_mcs2025_rare_earths.md")
    assert ("row", "China: Mine production 2023: 255,000; Mine production 2024: 270,000; Reserves: 44,000,000") \
        in _blocks(usgs)
    compact = load_article(ROOT / "corpus" / "wh_2023-05-20_australia_us_climate_critical_minerals_compact.md")
    assert ("heading", "Coordinating Supply Chains and Accelerating Market Development and Investment to Support "
                       "the Clean Energy Economy") in _blocks(compact)
    memo = load_article(ROOT / "eval" / "articles" / "2025-06-30-simplifying-the-funding-of-energy-infrastructure-"
                        "and-critical-mineral-and-material-projects.md")
    kinds = [k for k, _t in _blocks(memo)]
    assert kinds[:3] == ["furniture"] * 3 and kinds[-1] == "furniture" and kinds.count("para") >= 4


def test_the_fixes_do_not_depend_on_trailing_spaces(tmp_path):
    """Markdown hard breaks ("  " at a line end) must not decide structure: a whitespace-only re-save of an
    article must load to the same text and blocks (the index then sees it unchanged)."""
    for name, text in {"eo.md": EO, "memo.md": MEMO, "usgs.md": USGS}.items():
        a = _load(tmp_path, name, text)
        b = _load(tmp_path, "resaved-" + name, text.replace("\n", "  \r\n"))
        assert _blocks(a) == _blocks(b), name
