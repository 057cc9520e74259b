"""Question analysis with the packaged spaCy model: the answer type, its focus, the constraints —
whatever the capitalisation, and through small misspellings."""

from __future__ import annotations

import pytest

from assay.app.question import analyze


@pytest.mark.parametrize("question, atype, focus", [
    ("How much did the Energy Department lend to the battery maker?", "money", ""),
    ("What is the total value of the refinery contract?", "money", ""),
    ("How big is the point-of-sale EV rebate per car?", "money", "rebate"),
    ("how big was DFC's grant to Pensana?", "money", "grant"),
    ("what did they spend on mapping critical minerals?", "money", "amount"),
    ("How many workers will the new smelter employ?", "quantity", "worker"),
    ("How much graphite can the plant produce each year?", "quantity", "graphite"),
    ("What share of the world's cobalt is refined in one country?", "percent", "share"),
    ("When was the compact signed?", "date", ""),
    ("In what year did the mine reopen?", "date", ""),
    ("Who leads the task force?", "person", ""),
    ("Which Fortescue executive announced the new investments?", "person", "executive"),
    ("What is the Minerals Security Partnership?", "description", ""),
    ("Which agency approved the loan?", "organization", "agency"),
    ("What company runs the separation facility?", "organization", "company"),
    ("Where will the refinery be built?", "place", ""),
    ("Which state hosts the new magnet plant?", "place", "state"),
    ("Why did the partners create a stockpile?", "reason", ""),
    ("What is the stockpile for?", "reason", ""),
    ("What is scandium used for?", "use", ""),
    ("How are the recovered magnets used?", "use", ""),
    ("What are the main applications of gallium?", "use", ""),
    ("How much cobalt is used?", "quantity", "cobalt"),
    ("Which countries joined the partnership?", "list", "country"),
    ("Name the companies that received awards.", "list", "company"),
    ("Is the agreement legally binding?", "yesno", ""),
    ("Does the order cover uranium?", "yesno", ""),
    ("What is a processed critical mineral?", "description", ""),
    ("Tell me about the stockpile.", "description", ""),
])
def test_each_answer_type_is_recognised(question, atype, focus):
    a = analyze(question)
    assert a.atype == atype, (question, a.atype)
    if focus:
        assert a.focus == focus, (question, a.focus)


def test_a_count_is_tied_to_its_noun_and_a_list_to_its_items():
    assert analyze("How many jobs will the plant create?").focus == "job"
    a = analyze("Which countries joined the partnership?")
    assert a.atype == "list" and a.element == "place"
    assert analyze("Which companies won contracts?").element == "organization"


def test_constraints_are_names_and_years_not_question_words_or_months():
    a = analyze("How much did the Department of Defense award MP Materials in March 2024?")
    names = [c.text for c in a.names]
    assert any("MP Materials" in n for n in names) and any("Department of Defense" in n for n in names)
    assert [c.terms for c in a.years] == [["2024"]]
    assert not any("March" == n for n in names)
    a = analyze("what 3 agreements did the IPEF partners wrap up in San Francisco in Nov 2023?")
    assert "Nov" not in [c.text for c in a.names] and [c.terms for c in a.years] == [["2023"]]  # an abbreviated month
    # the source of an answer scopes nothing by itself; a nationality does, even as an adjective
    # ("which Pakistani shipyard …" of an article about Indian shipyards is a near-miss)
    a = analyze("According to the USGS, which Australian company mines monazite?")
    assert all(not c.required for c in a.names if c.text in ("USGS", "the USGS"))
    assert [(c.text, c.group) for c in a.required] == [("Australian", "norp")]
    assert ("Pakistani", "norp") in [(c.text, c.group) for c in analyze("Which Pakistani shipyard signed the repair agreement?").required]


def test_a_lowercase_question_still_names_what_the_corpus_writes_as_names(corpus_engine):
    lex = corpus_engine.index.lexical()
    lower = analyze("what did the department of defense award mp materials in texas?", lex)
    terms = {t for c in lower.required for t in c.terms}
    assert {"defens", "mp", "texa"} <= terms, lower.constraints
    assert not {"award", "materi"} & {t for c in lower.required for t in c.terms if len(c.terms) == 1}


def test_a_lowercase_question_takes_no_common_word_for_a_name(corpus_engine):
    """An inflected or compound English word ("landmines") is no name, nor a common noun the
    corpus capitalises only inside names ("the canada summit": the name is Canada)."""
    lex = corpus_engine.index.lexical()

    def required(q):
        return [c.text for c in analyze(q, lex).required]

    assert required("how much has the us spent on clearing landmines near the mine?") == []
    assert required("when did the canada summit happen?") == ["canada"]


@pytest.mark.parametrize("question", [
    "What did the Department of Defense award MP Materials?",
    "Which rare earth mineral is mined at Mountain Pass?",
    "What was the average price of terbium oxide in 2022?",
    "How much did the Department of Defense award Iluka Resources?",  # no article mentions Iluka
])
def test_lowercase_and_capitalised_questions_get_the_same_outcome(corpus_engine, question):
    from assay.app.answer import answer

    upper, lower = answer(question, engine=corpus_engine), answer(question.lower(), engine=corpus_engine)
    assert upper.status == lower.status, (upper.text, lower.text)
    if upper.status != "abstained":
        assert upper.sentences[0].text == lower.sentences[0].text


def test_small_misspellings_are_corrected_against_the_index_vocabulary(corpus_engine):
    lex = corpus_engine.index.lexical()
    a = analyze("What did the Departmnet of Defense award MP Materails?", lex)
    assert {"departmnet", "materails"} & {w.lower() for w in a.corrected}
    assert "materials" in a.question.lower() or "materi" in " ".join(t for c in a.names for t in c.terms)


def test_a_misspelt_part_of_a_camel_case_name_is_put_right_and_searched_as_the_index_spells_it(corpus_engine):
    """"BlueOvall" is BlueOval (its second part one letter off): the question is analysed and
    searched with the index's spelling, so it gets the same answer as the right spelling."""
    from assay.app.answer import answer

    a = analyze("Where is BlueOvall building its battery plant?", corpus_engine.index.lexical())
    assert "BlueOval " in a.question and [c.text for c in a.names] == ["BlueOval"]
    typo, right = (answer(q, engine=corpus_engine) for q in ("Where is BlueOvall building its battery plant?",
                                                              "Where is BlueOval building its battery plant?"))
    assert typo.query == right.query == "Where is BlueOval building its battery plant?"
    assert typo.status == right.status != "abstained" and typo.text == right.text


def test_a_question_with_a_relative_clause_is_restated_with_its_verb_after_the_whole_subject():
    from assay.app.question import asked_clause

    assert asked_clause(analyze("Where are the projects that Commerce backed for legacy chips?")) == \
        "where the projects that Commerce backed for legacy chips are"
    assert asked_clause(analyze("How many jobs will the plant create?")) == "how many jobs the plant will create"


def test_a_misspelt_name_that_is_an_english_word_is_corrected_only_to_a_name(corpus_engine):
    """"Secretary Blinker" is Blinken (the corpus's name, one letter off); "the Forest Service"
    keeps its English word even though the corpus has "forces" and never "forest"."""
    lex = corpus_engine.index.lexical()
    assert analyze("What did Secretary Blinker say about critical minerals?", lex).corrected == {"Blinker": "Blinken"}
    assert analyze("Did the Forest Service approve the Housing plan?", lex).corrected == {}


def test_a_document_named_by_its_number_is_met_anywhere_in_it_and_its_kind_alone_names_nothing():
    from assay.app.check import check

    a = analyze("Does EO 14415 block contractors from buying minerals out of Project Vault?")
    assert [(c.text, c.article_wide) for c in a.names] == [("Project Vault", False), ("EO 14415", True)]
    assert not [c for c in analyze("does the offshore minerals EO count copper as a mineral?").names if c.required]
    sentence = "The sale of critical materials by Project Vault to a contractor shall not be construed as a violation."
    assert [c.text for c in check(a, sentence, [], block=sentence).unmet] == ["EO 14415"]
    article = "Executive Order 14415\n\nBy the authority vested in me as President, it is hereby ordered:\n\n" + sentence
    assert not check(a, sentence, [], block=sentence, article=article).unmet


def test_the_missing_part_is_said_as_a_clause():
    assert analyze("How many jobs will the plant create?").asked() == "how many jobs the plant will create"
    assert analyze("When did the partners sign the compact?").asked() == "when the partners signed the compact"
    note = analyze("Where will the ministerial be held?").missing_note()
    assert note == "They don't say where the ministerial will be held (no place is named)."
    # the verb is found by its auxiliary even where the tagger takes it for a noun ("fact sheet give")
    assert (analyze("What reason does the May 2024 fact sheet give for quadrupling the tariff on EVs?").asked()
            == "what reason the May 2024 fact sheet gives for quadrupling the tariff on EVs")
    assert analyze("Why did they quickly sign it?").asked() == "why they quickly signed it"


def test_a_use_question_says_what_is_missing_as_a_clause():
    """The asking phrase of a use question is its wh-word: the subject stays what is asked about."""
    assert analyze("What are rare earth permanent magnets used in?").missing_note() == \
        "They don't say what rare earth permanent magnets are used in (no use is given)."
    assert analyze("How are rare earth magnets used?").asked() == "how rare earth magnets are used"
    assert "magnet" in analyze("What are rare earth permanent magnets used in?").terms


def test_what_the_question_leaves_out_is_not_asked():
    a = analyze("Apart from catalysts, what are rare earths used for in the US?")
    assert a.atype == "use" and a.excluded == {"catalyst"} and "catalyst" not in a.terms
    assert analyze("What are rare earths used for, other than catalysts?").excluded == {"catalyst"}
    assert not analyze("What are rare earths used for?").excluded


def test_apart_from_one_use_the_answer_gives_the_others(corpus_engine):
    from assay.app.answer import answer

    a = answer("Apart from catalysts, what are rare earths used for in the US?", [], engine=corpus_engine)
    quoted = " ".join(s.text for s in a.sentences if s.kind != "note")
    assert not a.abstained and "ceramics" in quoted, a.text
    assert "catalyst" not in quoted.lower(), a.text


def test_a_use_question_is_answered_by_a_use_not_by_a_purpose_clause(corpus_engine):
    """"What are X used for?" wants an application ("end use", "used in"), not any "to …" clause."""
    from assay.app.answer import answer

    a = answer("What are rare earth elements used for?", [], engine=corpus_engine)
    assert not a.abstained and a.sentences[0].kind == "answer"
    assert any(w in a.sentences[0].text.lower() for w in ("end use", "used in", "used for", "essential for", "manufactur")), a.text
    magnets = answer("What are rare earth permanent magnets used in?", [], engine=corpus_engine)  # "magnets power everything from …"
    assert magnets.status == "answered" and "wind turbines" in magnets.sentences[0].text, magnets.text


@pytest.mark.parametrize("typed, written", [
    ("whats scandium used for", "what's scandium used for"),
    ("doesnt the order cover uranium?", "doesn't the order cover uranium?"),
    ("whos leading the task force?", "who's leading the task force?"),
])
def test_a_contraction_typed_without_its_apostrophe_reads_as_written_with_it(typed, written):
    """"whats" parsed as written is "what" + a name "s" that no article mentions: refused."""
    got, want = analyze(typed), analyze(written)
    assert got.atype == want.atype
    assert [c.text for c in got.constraints] == [c.text for c in want.constraints]
    assert not any(len(c.text) < 2 for c in got.constraints)


def test_a_name_is_met_by_the_sentences_passage_and_an_enumeration_by_semicolons():
    from assay.app.check import check

    a = analyze("How much did the California Energy Commission give BHE Renewables?")
    sentence = "And that project is supported by a $6 million grant from the California Energy Commission."
    passage = "BHE Renewables is building its first lithium demonstration plant in the Salton Sea.\n\n" + sentence
    alone = check(a, sentence, [(35, 45, "MONEY")])
    assert [c.text for c in alone.unmet] == ["BHE Renewables"]
    within = check(a, sentence, [(35, 45, "MONEY")], block=passage)
    assert not within.unmet and within.coverage == 1.0 and within.carries == 1.0
    # a name the passage does not hold stays unmet
    assert check(a, sentence, [(35, 45, "MONEY")], block="Another plant.\n\n" + sentence).unmet

    listing = analyze("What four critical products did the supply chain reviews cover?")
    assert listing.atype == "list"
    semis = ("The reviews covered semiconductor manufacturing and advanced packaging; large capacity batteries, like "
             "those for electric vehicles; critical minerals and materials; and pharmaceuticals and their ingredients.")
    assert check(listing, semis, []).carries == 1.0
    assert check(listing, "The reviews covered semiconductor manufacturing and advanced packaging.", []).carries < 1.0


def test_a_name_carried_from_the_conversation_is_met_anywhere_in_the_article_one_typed_is_not():
    from assay.app.check import check

    sentence = "We are committed to achieving an ambitious outcome in the Global Arrangement on Sustainable Steel and Aluminum negotiations by October 2023."
    article = "The United States and the European Union (EU) share the most comprehensive economic relationship.\n\n" + sentence
    ents = [(sentence.index("October"), len(sentence) - 1, "DATE")]
    query = "When do the US and EU want the steel and aluminum arrangement wrapped up?"
    followup = analyze(query, typed="When do they want the steel and aluminum arrangement wrapped up?")
    assert [c.text for c in followup.constraints if c.carried and c.required] == ["EU"]  # "US" is generic, never required
    assert [c.text for c in check(followup, sentence, ents, block=sentence).unmet if c.required] == ["EU"]
    met = check(followup, sentence, ents, block=sentence, article=article)
    assert not [c for c in met.unmet if c.required] and met.carries == 1.0
    # the same name typed in this very question must be met by the sentence or its passage
    typed = analyze(query)
    assert not any(c.carried for c in typed.constraints)
    assert [c.text for c in check(typed, sentence, ents, block=sentence, article=article).unmet if c.required] == ["EU"]


def test_a_name_no_article_has_scopes_the_question_whatever_the_tagger_calls_it(corpus_engine):
    # spaCy tags "Malawi" here as a PERSON; persons are otherwise optional ("the President" for "Biden")
    a = analyze("How much is DFC lending for graphite mining in Malawi?", corpus_engine.index.lexical())
    assert [c.text for c in a.names if c.required and c.text == "Malawi"] == ["Malawi"]


def test_a_name_of_the_setting_is_met_anywhere_in_the_article():
    from assay.app.check import check

    a = analyze("Which Fortescue executive announced the company's new US clean energy investments at the APEC event?")
    assert [c.text for c in a.constraints if c.setting] == ["APEC"]
    sentence = "Executive Chairman Andrew Forrest of Fortescue announced today new investments in clean energy."
    ents = [(19, 33, "PERSON"), (37, 46, "ORG")]
    assert [c.text for c in check(a, sentence, ents, block=sentence).unmet if c.required] == ["APEC"]
    article = "As leaders gather for APEC in San Francisco, companies announce investments.\n\n" + sentence
    met = check(a, sentence, ents, block=sentence, article=article)
    assert not [c for c in met.unmet if c.required] and met.carries == 1.0


def test_a_name_is_met_by_its_acronym_and_a_department_by_its_short_name(corpus_engine):
    from assay.app.check import check

    lex = corpus_engine.index.lexical()
    interior = analyze("By what percentage did Interior's April 2024 rule cut fees for solar projects?", lex)
    assert "department of the interior" in lex.entities  # the bundled corpus names it
    sentence = "In April 2024, DOI finalized a rule reducing fees for solar projects by 80 percent."
    assert not [c for c in check(interior, sentence, [(66, 76, "PERCENT")]).unmet if c.required]
    assert [c.text for c in check(interior, sentence.replace("DOI", "DOT"), [(66, 76, "PERCENT")]).unmet] == ["Interior"]
    doe = analyze("What did the Department of Energy give the university?", lex)
    assert not check(doe, "DOE gave the university a $16 million grant.", [(25, 36, "MONEY")]).unmet
    assert check(doe, "The department gave the university a $16 million grant.", [(37, 48, "MONEY")]).unmet


def test_a_person_may_be_named_by_office_and_a_company_is_no_government_body():
    from assay.app.check import check

    a = analyze("Which cabinet official had to write the 100-day report on critical minerals?")
    sentence = "The Secretary of Defense, in consultation with the heads of appropriate agencies, shall submit a report on critical minerals."
    ev = check(a, sentence, [(21, 28, "ORG")])
    assert ev.carries == 1.0 and ev.answer == "Secretary of Defense"
    assert check(a, "The report on critical minerals shall be submitted within 100 days.", []).carries == 0.0
    # and "he" in a follow-up then stands for the office
    from assay.app.check import answer_name

    assert answer_name(analyze("Who has to draft the interim report?"), sentence, [(21, 28, "ORG")], "PERSON") == "the Secretary of Defense"
    company = analyze("What company runs the smelter that got the exemption?")
    epa = "On May 13, 2024, the Environmental Protection Agency published a final rule on copper smelting."
    assert check(company, epa, [(17, 52, "ORG")]).carries < 1.0  # an agency is not the company asked for


def test_a_definition_answers_only_for_the_term_asked():
    from assay.app.check import check

    a = analyze("what is an 'indentured bill of materials' in the defense supply chain order?")
    own = "(b) The term “indentured Bill of Materials” shall mean all the components and parts back to the raw materials."
    other = "(a) The term “critical supply chain” means all tiers of suppliers providing materials."
    assert check(a, own, []).carries == 1.0 and check(a, other, []).carries < 1.0


def test_a_term_glossed_in_passing_is_defined_and_an_administration_is_the_author_of_its_documents():
    """"what does the Biden-Harris Administration mean by 'foundational semiconductors'?" is answered by
    "… foundational semiconductors (also known as legacy chips) …" in one of its fact sheets."""
    from assay.app.check import check

    a = analyze("What does the Biden-Harris Administration mean by 'foundational semiconductors'?")
    assert [c.text for c in a.names if c.article_wide] == ["Biden-Harris Administration"]
    gloss = "USTR is launching an investigation of the targeting of foundational semiconductors (also known as legacy or mature node chips)."
    plain = "A resilient and secure supply of foundational semiconductors is critical to national and economic security."
    article = "FACT SHEET: The Biden-Harris Administration protects American workers.\n\n" + gloss
    assert check(a, gloss, [], block=gloss).coverage < 1.0  # not in the sentence: in its article
    assert check(a, gloss, [], block=gloss, article=article).coverage == 1.0
    assert check(a, gloss, [], block=gloss, article=article).carries == 1.0 and check(a, plain, []).carries < 1.0


def test_a_sentence_that_names_three_items_after_such_as_answers_a_list_question():
    from assay.app.check import check

    a = analyze("Which responsible business conduct standards does the G7 want supply chains aligned with?")
    listed = ("Supply chains should be aligned with standards on responsible business conduct such as the UN Guiding "
              "Principles on Business and Human Rights, ILO Tripartite Declaration and the OECD Guidelines.")
    assert check(a, listed, []).carries == 1.0
    assert check(a, "Supply chains should be aligned with standards on responsible business conduct.", []).carries < 1.0


def test_until_when_is_answered_by_the_date_a_period_ends_not_by_any_date():
    from assay.app.check import check

    a = analyze("Until what date could the public comment on the Request for Information?")
    issued = "Comments can be submitted on the Request for Information that was issued on March 31."
    ends = "Comments can be made through July 31, 2022 at Regulations.gov."
    assert check(a, issued, [(76, 84, "DATE")]).carries < 1.0
    ev = check(a, ends, [(29, 42, "DATE")])
    assert ev.carries == 1.0 and ev.answer == "July 31, 2022"
    assert check(analyze("When was the Request for Information issued?"), issued, [(76, 84, "DATE")]).carries == 1.0


def test_chips_used_in_data_centers_do_not_make_a_use_question_and_a_capital_stands_for_its_country():
    assert analyze("by what date does the secretary have to update the president on chips used in US data centers?").atype == "date"
    assert analyze("What are rare earth permanent magnets used in?").atype == "use"
    seoul = next(c for c in analyze("How much is Seoul making available for battery plants in North America?").names if c.text == "Seoul")
    assert "korea" in seoul.aliases


def test_the_office_a_document_names_once_is_met_anywhere_in_it(corpus_engine):
    from assay.app.check import check

    lowercase = analyze("by what date does the commerce secretary have to update the president?", corpus_engine.index.lexical())
    assert "commerce" in [c.text for c in lowercase.names if c.article_wide]
    a = analyze("by what date does the Commerce Secretary have to update the president on the chip market?")
    assert all(c.article_wide for c in a.names) and a.names
    sentence = "By July 1, 2026, the Secretary shall provide me with an update on the market for chips."
    article = "1. On July 1, 2025, the Secretary of Commerce (Secretary) transmitted to me a report.\n\n" + sentence
    assert not [c for c in check(a, sentence, [(3, 15, "DATE")], block=sentence, article=article).unmet if c.required]


def test_a_department_called_by_its_short_name_is_met_anywhere_in_the_article(corpus_engine):
    """"why did commerce conclude …": the Department acts through "the Secretary" its document names once."""
    from assay.app.check import check

    lex = corpus_engine.index.lexical()
    assert "department of commerce" in lex.entities or "u.s. department of commerce" in lex.entities
    a = analyze("why did commerce conclude that copper imports are a threat?", lex)
    assert [c.text for c in a.names if c.article_wide] == ["commerce"]
    sentence = "Because of global excess capacity, the Secretary found that copper imports threaten to impair the national security."
    article = "1. On June 30, 2025, the Secretary of Commerce transmitted to me a report on copper.\n\n" + sentence
    assert not [c for c in check(a, sentence, [], block=sentence, article=article).unmet if c.required]
    assert [c.text for c in check(a, sentence, [], block=sentence, article=sentence).unmet] == ["commerce"]
    assert not [c for c in analyze("why did the copper market grow?", lex).names if c.article_wide]


def test_the_verb_may_is_no_month():
    from assay.app.check import check

    a = analyze("From what date does the order stop the Secretary issuing waivers?")
    assert check(a, "(b) The Secretary may continue to issue waivers under the order.", [(16, 19, "DATE")]).carries < 1.0
    assert check(a, "(a) On January 1, 2027, the Secretary shall cease to issue waivers.", [(7, 22, "DATE")]).carries == 1.0


def test_a_nationality_no_passage_has_is_missing_and_its_country_meets_it(corpus_engine):
    from assay.app.extractive import _names_nowhere
    from assay.app.schema import Passage

    a = analyze("Which Pakistani shipyard signed a repair agreement with the US Navy?")

    def passage(text):
        return Passage(chunk_id="c-0000", article_id="a", text=text, char_start=0, char_end=len(text), title="Fact sheet")

    india = passage("The United States Navy has concluded a Master Ship Repair Agreement with an Indian shipyard in Chennai.")
    pakistan = passage("The United States Navy has concluded a repair agreement with a shipyard in Pakistan's port of Karachi.")
    lex = corpus_engine.index.lexical()
    assert _names_nowhere(a, [india], lex) == ["Pakistani"]
    assert _names_nowhere(a, [pakistan], lex) == []


def test_which_one_of_several_a_text_speaks_of():
    from assay.app.question import ordinals_of

    assert analyze("What's in the second phase?").constraints[-1].rank == 2
    assert ordinals_of("phase", "In the second phase, after talks") == {2}
    assert ordinals_of("phase", "as part of this first phase of the plan") == {1}
    assert ordinals_of("phase", "Phase II begins") == ordinals_of("phase", "phase two begins") == {2}
    assert ordinals_of("phase", "the first and second phases") == {1, 2}
    assert ordinals_of("mine", "the first primary vanadium mine") == {1}
    assert ordinals_of("phase", "a two-phase plan") == ordinals_of("phase", "the first of its phases") == set()


def test_an_acronym_is_met_by_two_capitalised_words_of_a_title():
    """"the EV charging action plan" is the article titled "… Electric Vehicle Charging Action Plan"."""
    from assay.app.check import check

    a = analyze("Which automakers does the EV charging action plan say are signing lithium deals?")
    ev = check(a, "Automakers are also signing contracts that leverage domestic supply, including Ford and GM.", [],
               title="FACT SHEET: The Biden-Harris Electric Vehicle Charging Action Plan")
    assert [c.text for c in ev.unmet] == [] and "EV" in [c.text for c in ev.met]
    assert "EV" not in [c.text for c in check(a, "Automakers are signing contracts.", [], title="FACT SHEET: Lithium Plan").met]
