//! The sample corpus: complete, valid, and findable by its own titles.

use std::path::Path;

use crate::common::{engine, knowledge_dir};

#[test]
fn sample_corpus_is_valid_without_warnings() {
    let outcome = knowledge::Corpus::load(&knowledge_dir()).unwrap();
    let problems: Vec<String> = outcome.diagnostics.iter().map(ToString::to_string).collect();
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(outcome.corpus.len() >= 42);
    assert!(
        outcome.corpus.lexicon.len() >= 100,
        "lexicon has {} terms",
        outcome.corpus.lexicon.len()
    );
}

#[test]
fn every_catalog_id_has_a_guide_with_the_catalog_title() {
    let catalog = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/catalog.tsv");
    let Ok(text) = std::fs::read_to_string(&catalog) else {
        eprintln!(
            "skipping: {} not found (the shared catalog sits beside the repository)",
            catalog.display()
        );
        return;
    };
    let engine = engine();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let columns: Vec<&str> = line.split('\t').collect();
        let (id, audience, kind, name) = (columns[0], columns[1], columns[2], columns[3]);
        let guide = engine
            .corpus
            .guide(id)
            .unwrap_or_else(|| panic!("no guide for catalog id {id}"));
        assert_eq!(guide.title, name, "{id}");
        assert_eq!(guide.audience.label(), audience, "{id}");
        let kind_name = serde_json::to_value(guide.kind).unwrap();
        assert_eq!(kind_name, kind, "{id}");
    }
}

#[test]
fn every_title_finds_its_own_guide_first() {
    let engine = engine();
    for guide in &engine.corpus.guides {
        let hits = engine.index.search(&guide.title, 3).unwrap();
        assert_eq!(
            hits.first().map(|h| h.id.as_str()),
            Some(guide.id.as_str()),
            "{}: {hits:?}",
            guide.title
        );
    }
}

#[test]
fn every_alias_finds_its_guide_in_the_top_three() {
    let engine = engine();
    let mut misses = Vec::new();
    for guide in &engine.corpus.guides {
        for alias in &guide.aliases {
            let hits = engine.index.search(alias, 3).unwrap();
            if !hits.iter().any(|h| h.id == guide.id) {
                misses.push(format!(
                    "{alias} → {:?}",
                    hits.iter().map(|h| &h.id).collect::<Vec<_>>()
                ));
            }
        }
    }
    assert!(misses.is_empty(), "{misses:#?}");
}

#[test]
fn materials_with_an_e_license_are_marked_exempt_in_answers() {
    let engine = engine();
    let (_, reply) = bot::respond(
        &engine,
        &bot::Context::anonymous(),
        &bot::DialogueState::default(),
        "换身份证要带什么材料",
    )
    .unwrap();
    assert_eq!(reply.guides[0].id, "id-card-renewal");
    assert!(reply.text.contains("免于提交"), "{}", reply.text);
    assert!(reply.citations.iter().any(|c| c.section == "materials"));
    // The answer is what was asked: the materials, not the whole guide.
    assert!(reply.text.contains("所需材料"), "{}", reply.text);
    assert!(!reply.text.contains("办理流程"), "{}", reply.text);
    assert!(reply.quick_replies.iter().any(|q| q == "完整办事指南"));
}

#[test]
fn answers_are_sized_to_the_question_and_the_whole_guide_comes_when_asked() {
    let engine = engine();
    let ask = |state: &bot::DialogueState, message: &str| {
        bot::respond(&engine, &bot::Context::anonymous(), state, message).unwrap()
    };
    let (state, fee) = ask(&bot::DialogueState::default(), "换驾照要交多少钱");
    assert_eq!(fee.citations[0].section, "fees", "{}", fee.text);
    assert!(fee.text.chars().count() < 400, "{}", fee.text);
    let (_, full) = ask(&state, "完整办事指南");
    assert_eq!(
        full.guides.first().map(|g| g.id.as_str()),
        Some("driving-license-renewal")
    );
    for section in ["summary", "materials", "steps", "time_limit", "fees", "channels"] {
        assert!(
            full.citations.iter().any(|c| c.section == section),
            "{section}: {}",
            full.text
        );
    }
    // An FAQ about a narrower case (a child's card) does not answer a general question.
    let (_, general) = ask(&bot::DialogueState::default(), "身份证丢了怎么补");
    assert!(!general.text.contains("问："), "{}", general.text);
}

#[test]
fn every_citation_names_a_real_section_of_a_real_guide() {
    let engine = engine();
    for question in [
        "护照多少钱",
        "公积金租房提取要多久",
        "开饭店在哪里办",
        "个体户网上能办吗",
        "失业金的条件",
    ] {
        let (_, reply) = bot::respond(
            &engine,
            &bot::Context::anonymous(),
            &bot::DialogueState::default(),
            question,
        )
        .unwrap();
        assert!(!reply.citations.is_empty(), "{question}: {}", reply.text);
        for (i, citation) in reply.citations.iter().enumerate() {
            let guide = engine.corpus.guide(&citation.guide_id).expect("cited guide exists");
            let valid = match citation.section.strip_prefix("faq:") {
                Some(n) => n.parse::<usize>().is_ok_and(|n| n >= 1 && n <= guide.faq.len()),
                None => [
                    "summary",
                    "conditions",
                    "materials",
                    "steps",
                    "time_limit",
                    "fees",
                    "channels",
                    "cross_province",
                ]
                .contains(&citation.section.as_str()),
            };
            assert!(valid, "{question}: {citation:?}");
            assert!(
                reply.text.contains(&format!("[{}]", i + 1)),
                "{question}: marker {} missing",
                i + 1
            );
        }
    }
}

#[test]
fn out_of_scope_questions_are_declined_without_a_guide() {
    let engine = engine();
    for question in ["今天天气怎么样", "帮我写一首诗", "推荐一只股票"] {
        let (_, reply) = bot::respond(
            &engine,
            &bot::Context::anonymous(),
            &bot::DialogueState::default(),
            question,
        )
        .unwrap();
        assert_eq!(reply.intent, bot::Intent::OutOfScope, "{question}: {}", reply.text);
        assert!(reply.guides.is_empty());
        assert!(reply.text.contains("没有找到"));
        assert!(reply.quick_replies.iter().any(|q| q.contains("人工")));
    }
}

fn first_reply(engine: &bot::Engine, question: &str) -> bot::Reply {
    bot::respond(
        engine,
        &bot::Context::anonymous(),
        &bot::DialogueState::default(),
        question,
    )
    .unwrap()
    .1
}

/// A service named as object + verb that no guide offers is declined, its name quoted;
/// the same verb with an object the guides know is answered.
#[test]
fn a_service_no_guide_offers_is_declined_and_a_known_one_answered() {
    let engine = engine();
    for (question, named) in [("游艇登记要什么材料", "游艇登记"), ("域名注册怎么弄", "域名注册")]
    {
        let reply = first_reply(&engine, question);
        assert_eq!(reply.intent, bot::Intent::OutOfScope, "{question}: {}", reply.text);
        assert!(reply.guides.is_empty(), "{question}");
        assert!(reply.text.contains(named), "{question}: {}", reply.text);
    }
    for (question, id) in [
        ("结婚登记要什么材料", "marriage-registration"),
        ("高龄津贴申请", "senior-allowance"),
    ] {
        let reply = first_reply(&engine, question);
        assert_eq!(reply.intent, bot::Intent::Service, "{question}: {}", reply.text);
        assert_eq!(reply.guides.first().map(|g| g.id.as_str()), Some(id), "{question}");
    }
}

/// Losing a document the guides only renew, or one no guide replaces, is not answered with
/// the nearest guide; losing one a guide replaces is.
#[test]
fn a_lost_document_is_answered_only_by_a_guide_that_replaces_it() {
    let engine = engine();
    // 驾照: its guide only renews; 户口本: the best guide replaces something else (身份证).
    for question in ["驾照弄丢了怎么办", "户口本找不到了怎么办"] {
        let reply = first_reply(&engine, question);
        assert_eq!(reply.intent, bot::Intent::OutOfScope, "{question}: {}", reply.text);
        assert!(reply.guides.is_empty(), "{question}");
    }
    // The lost document is named away from the loss (在火车站弄丢了), or “掉了” only follows
    // selling (卖掉了): the guide still answers.
    for (question, id) in [
        ("身份证弄丢了怎么办", "id-card-replacement"),
        ("身份证在火车站弄丢了 能在这边补吗", "id-card-replacement"),
        ("社保卡坐地铁时弄丢了怎么办", "social-security-card"),
        ("房子卖掉了 房产证怎么过户", "property-transfer-registration"),
    ] {
        let reply = first_reply(&engine, question);
        assert_eq!(
            reply.guides.first().map(|g| g.id.as_str()),
            Some(id),
            "{question}: {}",
            reply.text
        );
    }
}

/// Homophone typos from a pinyin keyboard (神领 for 申领, 出身 for 出生) still find the guide.
#[test]
fn homophone_typos_find_the_guide() {
    let engine = engine();
    for (question, id) in [
        ("失业金神领条件", "unemployment-benefit"),
        ("宝宝出身登记要什么", "birth-hukou-registration"),
        ("二手房过护要交什么税", "property-transfer-registration"),
    ] {
        let reply = first_reply(&engine, question);
        let ids: Vec<&str> = reply.guides.iter().take(2).map(|g| g.id.as_str()).collect();
        assert!(ids.contains(&id), "{question}: {ids:?} {}", reply.text);
    }
}

#[test]
fn an_ambiguous_question_is_clarified_and_the_choice_answered() {
    let engine = engine();
    let (state, reply) = bot::respond(
        &engine,
        &bot::Context::anonymous(),
        &bot::DialogueState::default(),
        "公积金",
    )
    .unwrap();
    assert_eq!(reply.intent, bot::Intent::Service);
    assert!(reply.citations.is_empty(), "a question, not an answer: {}", reply.text);
    assert!(state.candidates.len() >= 2, "{state:?}");
    assert!(
        reply.quick_replies.contains(&"住房公积金个人住房贷款".to_string()),
        "{:?}",
        reply.quick_replies
    );
    let position = state
        .candidates
        .iter()
        .position(|id| id == "housing-fund-loan")
        .unwrap();

    let (state, reply) =
        bot::respond(&engine, &bot::Context::anonymous(), &state, &(position + 1).to_string()).unwrap();
    assert_eq!(reply.guides[0].id, "housing-fund-loan", "{}", reply.text);
    assert!(state.candidates.is_empty());
    assert_eq!(state.last_guide.as_deref(), Some("housing-fund-loan"));

    // The title itself, as a quick reply sends it, works too.
    let (_, clarify) = bot::respond(
        &engine,
        &bot::Context::anonymous(),
        &bot::DialogueState::default(),
        "公积金",
    )
    .unwrap();
    let (state, _) = bot::respond(
        &engine,
        &bot::Context::anonymous(),
        &bot::DialogueState::default(),
        "公积金",
    )
    .unwrap();
    let title = clarify.quick_replies[0].clone();
    let (_, reply) = bot::respond(&engine, &bot::Context::anonymous(), &state, &title).unwrap();
    assert_eq!(reply.guides[0].title, title);
}

#[test]
fn ranking_without_snippets_orders_guides_as_search_does() {
    let engine = engine();
    for query in ["居民身份证丢失补领", "公积金租房提取", "开个饭店要什么证", "残疾人证"] {
        let searched = engine.index.search(query, 10).unwrap();
        let ranked = engine.index.rank(query, 10).unwrap();
        let ids = |hits: &[index::Hit]| hits.iter().map(|h| (h.id.clone(), h.score)).collect::<Vec<_>>();
        assert_eq!(ids(&searched), ids(&ranked), "{query}");
        assert!(searched.iter().any(|h| h.snippet.contains("<b>")), "{query}");
        assert!(ranked.iter().all(|h| h.snippet.is_empty()), "{query}");
    }
}

/// Says each message in turn in one anonymous conversation; returns the last reply.
fn converse(messages: &[&str]) -> bot::Reply {
    let engine = engine();
    let mut state = bot::DialogueState::default();
    let mut last = None;
    for message in messages {
        let (next, reply) = bot::respond(&engine, &bot::Context::anonymous(), &state, message).unwrap();
        state = next;
        last = Some(reply);
    }
    last.expect("at least one message")
}

#[test]
fn a_follow_up_that_names_no_service_stays_on_the_topic() {
    for (messages, expected) in [
        (&["普通护照怎么申请", "可以找人代办吗"][..], "passport"),
        (&["普通护照怎么申请", "星期天窗口开门吗"][..], "passport"),
        (&["结婚登记需要什么", "非本地户口的也行吗"][..], "marriage-registration"),
        (&["普通护照怎么申请", "那港澳通行证呢"][..], "hk-macao-travel-permit"),
    ] {
        let reply = converse(messages);
        assert_eq!(reply.intent, bot::Intent::Service, "{messages:?}: {}", reply.text);
        assert_eq!(
            reply.guides.first().map(|g| g.id.as_str()),
            Some(expected),
            "{messages:?}: {}",
            reply.text
        );
    }
}

#[test]
fn an_ordinal_picks_among_the_services_the_citizen_listed() {
    let reply = converse(&["我想问问领结婚证和办居住证", "第二个要多久"]);
    assert_eq!(
        reply.guides.first().map(|g| g.id.as_str()),
        Some("residence-permit"),
        "{}",
        reply.text
    );
    let reply = converse(&["我想问问领结婚证和办居住证", "前面那个要带什么"]);
    assert_eq!(
        reply.guides.first().map(|g| g.id.as_str()),
        Some("marriage-registration"),
        "{}",
        reply.text
    );
}

#[test]
fn an_english_question_gets_an_english_frame_with_the_chinese_terms() {
    let engine = engine();
    let (_, reply) = bot::respond(
        &engine,
        &bot::Context::anonymous(),
        &bot::DialogueState::default(),
        "How long does it take to get a new passport?",
    )
    .unwrap();
    assert_eq!(
        reply.guides.first().map(|g| g.id.as_str()),
        Some("passport"),
        "{}",
        reply.text
    );
    let guide = engine.corpus.guide("passport").unwrap();
    assert!(
        reply.text.contains(guide.summary_en.as_deref().unwrap()),
        "{}",
        reply.text
    );
    assert!(reply.text.contains("Time limit (办理时限)"), "{}", reply.text);
    assert_eq!(reply.citations[0].section, "summary");
    assert!(reply.citations.iter().any(|c| c.section == "time_limit"));
}

#[test]
fn two_services_in_one_message_get_both() {
    let reply = converse(&["办护照和港澳通行证要多少钱"]);
    let mut ids: Vec<&str> = reply.guides.iter().take(2).map(|g| g.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["hk-macao-travel-permit", "passport"], "{}", reply.text);
    for id in ids {
        assert!(
            reply.citations.iter().any(|c| c.guide_id == id && c.section == "fees"),
            "{id}: {}",
            reply.text
        );
    }
    // A bundle and its own part are one answer, not two.
    let bundle = converse(&["新生儿出生一件事和医保参保一起办"]);
    assert!(!bundle.text.contains("您还问到"), "{}", bundle.text);
}
