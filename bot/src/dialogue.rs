//! One turn of the conversation.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::compose::{self, Focus};
use crate::intent::{Intent, detect_rules, unknown_document};
use crate::{Citation, Engine, GuideHit, Result, confidence};

/// What the conversation remembers between turns (persisted by the caller as JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DialogueState {
    /// The guide the last answer was about: follow-ups (“要带什么？”) refer to it.
    pub last_guide: Option<String>,
    /// Guides offered in a clarifying question, waiting for the citizen's choice.
    pub candidates: Vec<String>,
    pub n_turns: u32,
}

/// The assistant's answer to one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reply {
    pub intent: Intent,
    pub text: String,
    pub citations: Vec<Citation>,
    pub quick_replies: Vec<String>,
    /// The guides this reply is about, best first (empty when none applies).
    pub guides: Vec<GuideHit>,
}

const QUICK_HUMAN: &str = "转人工客服";
const QUICK_TICKET: &str = "提交12345工单";
const QUICK_REPHRASE: &str = "换个说法再问";

/// Answers `message` given the conversation so far; returns the new state and the reply.
pub fn respond(engine: &Engine, state: &DialogueState, message: &str) -> Result<(DialogueState, Reply)> {
    let mut next = state.clone();
    next.n_turns += 1;
    let message = message.trim();
    let focus = Focus::detect(message);

    if !state.candidates.is_empty()
        && let Some(id) = pick_candidate(engine, &state.candidates, message)
    {
        next.candidates.clear();
        return Ok(answer_guide(engine, next, &id, focus, message));
    }
    next.candidates.clear();

    let signals = detect_rules(message);
    if let Some(intent) = signals.decided {
        return Ok((next, canned(engine, intent)));
    }
    let hits = engine.index.search(message, 5)?;
    let thresholds = engine.thresholds;
    let top_confidence = hits.first().map_or(0.0, confidence);

    if signals.chitchat && top_confidence < thresholds.answer {
        return Ok((next, canned(engine, Intent::Chitchat)));
    }
    // A follow-up about the guide just discussed: “那要带什么材料？”
    if let Some(last) = &state.last_guide
        && focus != Focus::General
        && top_confidence < thresholds.answer
        && Focus::is_bare_follow_up(message)
    {
        let last = last.clone();
        return Ok(answer_guide(engine, next, &last, focus, message));
    }
    // “持枪证怎么办”: a document no guide knows is out of scope, unless retrieval is sure.
    if top_confidence < thresholds.answer + 1.3
        && let Some(name) = unknown_document(&engine.index, message)
    {
        let intent = if signals.complaint_hint {
            Intent::Complaint
        } else {
            Intent::OutOfScope
        };
        return Ok((next, fallback(engine, intent, &name)));
    }
    let Some(top) = hits.first().filter(|_| top_confidence >= thresholds.clarify) else {
        let intent = if signals.complaint_hint {
            Intent::Complaint
        } else {
            Intent::OutOfScope
        };
        return Ok((next, fallback(engine, intent, message)));
    };
    let close: Vec<&index::Hit> = hits
        .iter()
        .filter(|h| h.score * thresholds.ambiguous_ratio >= top.score && confidence(h) >= thresholds.clarify)
        .take(3)
        .collect();
    if top_confidence >= thresholds.answer && close.len() == 1 {
        let id = top.id.clone();
        let (next, mut reply) = answer_guide(engine, next, &id, focus, message);
        reply.guides = hits.iter().map(guide_hit).collect();
        return Ok((next, reply));
    }
    if signals.complaint_hint && top_confidence < thresholds.answer {
        return Ok((next, canned(engine, Intent::Complaint)));
    }
    // Plausible but not certain, or several guides fit as well: ask which one.
    let options: Vec<&index::Hit> = if close.len() > 1 {
        close
    } else {
        hits.iter().take(3).collect()
    };
    next.candidates = options.iter().map(|h| h.id.clone()).collect();
    let mut text = String::from("您想了解的是下面哪一项？请点选或回复序号：");
    for (i, hit) in options.iter().enumerate() {
        text.push_str(&format!("\n{}. {}", i + 1, hit.title));
    }
    let mut quick_replies: Vec<String> = options.iter().map(|h| h.title.clone()).collect();
    quick_replies.push(QUICK_REPHRASE.to_string());
    let reply = Reply {
        intent: Intent::Service,
        text,
        citations: Vec::new(),
        quick_replies,
        guides: hits.iter().map(guide_hit).collect(),
    };
    Ok((next, reply))
}

fn guide_hit(hit: &index::Hit) -> GuideHit {
    GuideHit {
        id: hit.id.clone(),
        title: hit.title.clone(),
        score: hit.score,
    }
}

/// The citizen's choice among offered guides: a number (“2”, “第二个”) or the title.
fn pick_candidate(engine: &Engine, candidates: &[String], message: &str) -> Option<String> {
    let text = index::normalize(message);
    let ordinals = [("1", "第一"), ("2", "第二"), ("3", "第三")];
    for (i, (digit, word)) in ordinals.iter().enumerate() {
        if (text.trim() == *digit || text.contains(word) || text.trim() == format!("{digit}.")) && i < candidates.len()
        {
            return Some(candidates[i].clone());
        }
    }
    candidates
        .iter()
        .find(|id| {
            engine
                .corpus
                .guide(id)
                .is_some_and(|g| text.contains(&index::normalize(&g.title)))
        })
        .cloned()
}

fn answer_guide(
    engine: &Engine,
    mut next: DialogueState,
    id: &str,
    focus: Focus,
    message: &str,
) -> (DialogueState, Reply) {
    let Some(guide) = engine.corpus.guide(id) else {
        // The guide vanished in a reload between turns: treat as not found.
        next.last_guide = None;
        return (next, fallback(engine, Intent::OutOfScope, message));
    };
    let faq = best_faq(engine, guide, message);
    let (text, citations) = compose::answer(&engine.corpus, guide, focus, faq);
    next.last_guide = Some(guide.id.clone());
    let mut quick_replies: Vec<String> = ["需要哪些材料", "要多长时间", "在哪里办理"]
        .into_iter()
        .filter(|q| Focus::detect(q) != focus)
        .map(str::to_string)
        .collect();
    quick_replies.extend(
        guide
            .related
            .iter()
            .filter_map(|r| engine.corpus.guide(r))
            .take(2)
            .map(|g| g.title.clone()),
    );
    quick_replies.push(QUICK_HUMAN.to_string());
    let reply = Reply {
        intent: Intent::Service,
        text,
        citations,
        quick_replies,
        guides: vec![GuideHit {
            id: guide.id.clone(),
            title: guide.title.clone(),
            score: 0.0,
        }],
    };
    (next, reply)
}

/// The FAQ whose question shares most of its terms with the message, if close enough.
fn best_faq(engine: &Engine, guide: &knowledge::Guide, message: &str) -> Option<usize> {
    let asked: HashSet<String> = engine.index.terms(message).into_iter().collect();
    if asked.len() < 2 {
        return None;
    }
    let mut best: Option<(usize, f32)> = None;
    for (i, faq) in guide.faq.iter().enumerate() {
        let terms: HashSet<String> = engine.index.terms(&faq.q).into_iter().collect();
        let shared = asked.intersection(&terms).count();
        let union = asked.union(&terms).count();
        let jaccard = shared as f32 / union.max(1) as f32;
        if shared >= 2 && jaccard >= 0.45 && best.is_none_or(|(_, b)| jaccard > b) {
            best = Some((i, jaccard));
        }
    }
    best.map(|(i, _)| i)
}

fn hotline(engine: &Engine) -> String {
    engine
        .corpus
        .department("hotline-12345")
        .map_or_else(|| "12345".to_string(), |d| d.hotline.clone())
}

/// Honest "not found", with the ways forward.
fn fallback(engine: &Engine, intent: Intent, message: &str) -> Reply {
    if intent == Intent::Complaint {
        return canned(engine, intent);
    }
    let shown: String = message.chars().take(30).collect();
    let text = format!(
        "抱歉，没有找到与“{shown}”相关的办事指南，我不想给您不准确的信息。您可以：\n1. 换个说法再问一次（例如说出要办的证件或事项名称）；\n2. 转人工客服；\n3. 拨打 {} 热线（7×24 小时）或提交12345工单。",
        hotline(engine)
    );
    Reply {
        intent,
        text,
        citations: Vec::new(),
        quick_replies: vec![
            QUICK_REPHRASE.to_string(),
            QUICK_HUMAN.to_string(),
            QUICK_TICKET.to_string(),
        ],
        guides: Vec::new(),
    }
}

/// Replies for the intents that do not need a guide.
fn canned(engine: &Engine, intent: Intent) -> Reply {
    let hotline = hotline(engine);
    let (text, quick_replies): (String, Vec<&str>) = match intent {
        Intent::Human => (
            format!("好的，正在为您转接人工客服，请稍候。人工服务时间为工作日 9:00-17:00；其他时间可拨打 {hotline} 热线（7×24 小时）。"),
            vec![],
        ),
        Intent::Complaint => (
            format!("听起来您想反映问题或投诉。请说明发生了什么、具体地点和时间；您也可以直接拨打 {hotline} 热线（7×24 小时）登记，我们会转交相关部门办理并答复您。"),
            vec![QUICK_TICKET, QUICK_HUMAN],
        ),
        Intent::Status => (
            "查询办件或工单进度需要先登录（统一身份认证），登录后可在“我的办件”“我的工单”中查看每一步的状态和办结时限；也可以告诉我办件编号。".to_string(),
            vec!["登录", QUICK_HUMAN],
        ),
        Intent::Rating => (
            "感谢您愿意评价！请选择满意程度：非常满意、满意、基本满意、不满意、非常不满意；如果不满意，请告诉我原因，我们会转交相关部门整改并回访。".to_string(),
            vec!["非常满意", "满意", "基本满意", "不满意", "非常不满意"],
        ),
        Intent::Chitchat => (
            "您好，我是示范市政务服务智能助手。我可以为您解答办事指南（要带什么材料、去哪办、多久办好、收费多少），也可以帮您转人工或登记12345诉求。请问您要办什么事？".to_string(),
            vec!["换身份证", "办护照", "开饭店要办什么证", "提取公积金"],
        ),
        Intent::Service | Intent::OutOfScope => return fallback(engine, Intent::OutOfScope, ""),
    };
    Reply {
        intent,
        text,
        citations: Vec::new(),
        quick_replies: quick_replies.into_iter().map(str::to_string).collect(),
        guides: Vec::new(),
    }
}
