//! One turn of the conversation.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::compose::{self, Focus};
use crate::intent::{
    Intent, asks_how_to_get, detect_rules, lost_elsewhere, misfit, unknown_document, unknown_qualifier,
    unknown_service, unoffered_action,
};
use crate::{Citation, Engine, GuideHit, Result, confidence};
use knowledge::phrases::lists;

/// What the conversation remembers between turns (persisted by the caller as JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DialogueState {
    /// The guide the last answer was about: follow-ups (“要带什么？”) refer to it.
    pub last_guide: Option<String>,
    /// Guides offered in a clarifying question, waiting for the citizen's choice.
    pub candidates: Vec<String>,
    /// The options listed most recently, kept after a choice so that a later “the other
    /// one” / “第二个” still resolves.
    pub last_options: Vec<String>,
    pub n_turns: u32,
    /// The form being filled in this conversation.
    pub form: Option<crate::FormState>,
    /// A logged-in user's unfinished form from an earlier conversation, offered to resume.
    pub paused_form: Option<crate::FormState>,
    /// A 12345 complaint being taken down.
    pub ticket: Option<crate::tickets::TicketDraft>,
    /// A rating being given.
    pub rating: Option<crate::tickets::RatingDraft>,
    /// What the citizen can rate now: (kind, id) of the last application or ticket.
    pub rateable: Option<(String, String)>,
    /// Appointment slots offered, waiting for a choice.
    pub slots: Vec<crate::appointments::OfferedSlot>,
    /// The service whose appointment is being arranged.
    pub appointment_service: Option<String>,
    /// The slots offered replace the citizen's booking (改约).
    pub moving: bool,
    /// The application whose 补正 is being answered: uploads go to it.
    pub correcting: Option<String>,
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
    /// The form being filled, when there is one.
    pub form: Option<crate::FormView>,
    /// What the caller must do to finish this turn (submit, list applications).
    #[serde(skip)]
    pub effect: Option<crate::Effect>,
}

impl Reply {
    /// A reply whose text the caller writes (after carrying out its effect).
    pub(crate) fn empty(intent: Intent) -> Reply {
        Reply::new(intent, String::new(), Vec::new())
    }

    fn new(intent: Intent, text: String, quick_replies: Vec<String>) -> Reply {
        Reply {
            intent,
            text,
            citations: Vec::new(),
            quick_replies,
            guides: Vec::new(),
            form: None,
            effect: None,
        }
    }
}

const QUICK_HUMAN: &str = "转人工客服";
pub const QUICK_TICKET: &str = "提交12345工单";
const QUICK_REPHRASE: &str = "换个说法再问";

/// Answers `message` given the conversation so far; returns the new state and the reply.
pub fn respond(
    engine: &Engine,
    context: &crate::Context<'_>,
    state: &DialogueState,
    message: &str,
) -> Result<(DialogueState, Reply)> {
    // The services the message names by title or alias, found once for the whole turn.
    let named = named_guides(engine, message.trim());
    let listed = if named.len() >= 2 {
        named.clone()
    } else {
        listed_services(engine, message.trim())?
    };
    let (next, reply) = respond_one(engine, context, state, message, &named, &listed)?;
    Ok(also_named(engine, next, reply, message, &named))
}

/// Two services asked in one message (“社保卡怎么补，生育津贴怎么领”) get both: the answer
/// about the first, then a short answer about each other service the message names by title
/// or alias (not a part of the bundle answered, which covers it already). A list read from its
/// parts is not answered here: a comma or 及 also cuts one question into clauses that each
/// match some guide (办理流程及照片要求), which would add an answer nobody asked for.
fn also_named(
    engine: &Engine,
    next: DialogueState,
    mut reply: Reply,
    message: &str,
    named: &[String],
) -> (DialogueState, Reply) {
    let answered = match reply.guides.first() {
        Some(hit) if reply.intent == Intent::Service && reply.form.is_none() && !reply.citations.is_empty() => {
            hit.id.clone()
        }
        _ => return (next, reply),
    };
    let Some(answered_guide) = engine.corpus.guide(&answered) else {
        return (next, reply);
    };
    let focus = Focus::detect(&engine.corpus.phrases, message);
    let others: Vec<String> = named
        .iter()
        .filter(|id| **id != answered && !answered_guide.members.contains(id))
        .filter(|id| engine.corpus.guide(id).is_some_and(|g| !g.members.contains(&answered)))
        .take(2)
        .cloned()
        .collect();
    for id in others {
        let Some(guide) = engine.corpus.guide(&id) else {
            continue;
        };
        let (text, citations) = compose::answer(&engine.corpus, guide, focus, None);
        let offset = reply.citations.len();
        // Renumber the second answer's citation marks after the first's.
        let mut text = text;
        for n in (1..=citations.len()).rev() {
            text = text.replace(&format!("[{n}]"), &format!("[{}]", n + offset));
        }
        reply.text.push_str("\n\n您还问到：\n");
        reply.text.push_str(&text);
        reply.citations.extend(citations);
        if !reply.guides.iter().take(1).any(|g| g.id == id) {
            reply.guides.retain(|g| g.id != id);
            reply.guides.insert(
                1.min(reply.guides.len()),
                GuideHit {
                    id: guide.id.clone(),
                    title: guide.title.clone(),
                    score: 0.0,
                },
            );
        }
    }
    (next, reply)
}

fn respond_one(
    engine: &Engine,
    context: &crate::Context<'_>,
    state: &DialogueState,
    message: &str,
    named: &[String],
    listed: &[String],
) -> Result<(DialogueState, Reply)> {
    let mut next = state.clone();
    next.n_turns += 1;
    let message = message.trim();
    let focus = Focus::detect(&engine.corpus.phrases, message);
    let signals = detect_rules(&engine.corpus.phrases, message);

    if signals.decided == Some(Intent::Human) {
        return Ok((next, canned(engine, Intent::Human)));
    }
    if let Some(form_state) = state.form.clone() {
        // A message that names another service, and is no answer to the field asked, is a
        // new question: the form is kept aside (“继续办理” resumes it) and the question
        // answered as any other.
        let answers = engine.corpus.form(&form_state.service_id).is_some_and(|form| {
            form_state
                .awaiting
                .as_deref()
                .and_then(|a| form.fields.iter().find(|f| f.name == a))
                .is_some_and(|f| {
                    // Free text takes anything: a question is not an answer to it.
                    let question = message.trim_end().ends_with(['?', '？', '吗', '呢'])
                        || ["怎么", "什么", "哪里", "多少", "能不能", "可以吗"]
                            .iter()
                            .any(|w| message.contains(w));
                    f.check(message).is_ok() && !(f.kind == knowledge::validators::ValidatorKind::Text && question)
                })
        });
        let other = if answers || form_state.phase != crate::forms::Phase::Collecting {
            None
        } else {
            match named.iter().find(|id| **id != form_state.service_id) {
                Some(id) => Some(id.clone()),
                // Not named by title or alias: a guide BM25 is sure about whose title the
                // message echoes (“护照怎么办理”), not a question about some aspect of this
                // one (“要交钱吗”).
                None => engine
                    .index
                    .rank(message, 1)?
                    .into_iter()
                    .next()
                    .filter(|hit| confidence(hit) >= engine.thresholds.answer && hit.id != form_state.service_id)
                    .filter(|hit| echoes_title(engine, message, &hit.id, &form_state.service_id))
                    .map(|hit| hit.id),
            }
        };
        if other.is_none() {
            return Ok(continue_form(engine, context, next, form_state, message));
        }
        let mut state = state.clone();
        state.form = None;
        state.paused_form = Some(form_state.clone());
        let (next, mut reply) = respond_one(engine, context, &state, message, named, listed)?;
        let title = engine
            .corpus
            .guide(&form_state.service_id)
            .map_or(form_state.service_id.clone(), |g| g.title.clone());
        if next.form.is_none() {
            reply.text.push_str(&format!(
                "\n\n（《{title}》的申请已为您保留，回复“继续办理”可以接着填写。）"
            ));
            reply.quick_replies.push("继续办理".into());
        }
        return Ok((next, reply));
    }
    if let Some(paused) = state.paused_form.clone()
        && (engine
            .corpus
            .phrases
            .words(lists::RESUME)
            .iter()
            .any(|w| message.starts_with(w.as_str()))
            || message == "继续")
    {
        next.paused_form = None;
        return Ok(match engine.corpus.form(&paused.service_id) {
            Some(form) => {
                let title = engine
                    .corpus
                    .guide(&paused.service_id)
                    .map_or(paused.service_id.clone(), |g| g.title.clone());
                let outcome = crate::forms::next_question(&form, paused, &title, context);
                let mut outcome_text = format!("欢迎回来，继续办理《{title}》。");
                outcome_text.push_str(&outcome.text);
                finish_form(
                    next,
                    &form,
                    crate::forms::Outcome {
                        text: outcome_text,
                        ..outcome
                    },
                )
            }
            None => (next, fallback(engine, Intent::OutOfScope, message)),
        });
    }
    if let Some(draft) = state.ticket.clone() {
        let outcome = crate::tickets::turn(&engine.corpus.phrases, draft, message, context.user.is_some());
        return Ok(intake_reply(next, outcome));
    }
    if let Some(draft) = state.rating.clone() {
        let phrases = &engine.corpus.phrases;
        if !(draft.offered && crate::tickets::read_rating(phrases, message).is_none()) {
            return Ok(rating_turn(phrases, next, draft, context, message));
        }
        next.rating = None;
    }
    // 补正: a department asked for missing materials; files are uploaded, then resubmitted.
    if context.user.is_some() {
        let phrases = &engine.corpus.phrases;
        let text = index::normalize(message);
        let mut reply = Reply::new(Intent::Status, String::new(), Vec::new());
        if let Some(number) = state.correcting.clone()
            && phrases.words(lists::RESUBMIT).iter().any(|w| text.contains(w.as_str()))
        {
            next.correcting = None;
            reply.effect = Some(crate::Effect::Resubmit { number });
            return Ok((next, reply));
        }
        let uploaded = state.correcting.is_some() && text.contains("已上传");
        if uploaded
            || phrases
                .words(lists::CORRECTION)
                .iter()
                .any(|w| text.contains(w.as_str()))
        {
            reply.effect = Some(crate::Effect::StartCorrection);
            return Ok((next, reply));
        }
    }
    // 预约: free slots, a choice among them, moving or cancelling a booking.
    if let Some(request) = crate::appointments::read(engine, state, message, named) {
        return Ok(crate::appointments::turn(engine, next, request));
    }
    // The answer to “which of these?” (a bare “2” is a choice here, not two stars).
    if !state.candidates.is_empty()
        && let Some(id) = pick_candidate(engine, &state.candidates, message)
    {
        next.candidates.clear();
        return Ok(answer_guide(engine, next, &id, focus, message));
    }
    // Services the citizen lists themself (“上户口和办医保”) are options a later “第一个” picks.
    if listed.len() >= 2 {
        next.last_options = listed.to_vec();
    }
    // “第二个要多久”: an ordinal about options listed before.
    if !state.last_options.is_empty()
        && let Some(id) = pick_ordinal(engine, &state.last_options, message)
    {
        return Ok(answer_guide(engine, next, &id, focus, message));
    }
    // “投诉已经解决了，谢谢”: the citizen's own request is done; no new complaint, no status list.
    let has_ticket = state.rateable.as_ref().is_some_and(|(kind, _)| kind == "ticket");
    if signals.decided != Some(Intent::Rating)
        && crate::tickets::confirms_resolution(&engine.corpus.phrases, message, has_ticket)
    {
        return Ok(confirm_resolved(next, context));
    }
    if signals.decided == Some(Intent::Status) && context.user.is_some() {
        let mut reply = Reply::new(Intent::Status, String::new(), Vec::new());
        reply.effect = Some(crate::Effect::ListStatus);
        return Ok((next, reply));
    }
    if signals.decided == Some(Intent::Complaint) {
        let outcome = crate::tickets::start(message, context.user.is_some());
        return Ok(intake_reply(next, outcome));
    }
    if signals.decided == Some(Intent::Rating) {
        return Ok(start_rating(engine, next, context, message));
    }
    let apply = engine.corpus.phrases.words(lists::APPLY);
    let applying = apply.iter().any(|w| message.contains(w.as_str()));
    if applying
        && let Some(last) = state.last_guide.clone()
        && strip_words(message, apply)
            .chars()
            .filter(|c| c.is_alphanumeric())
            .count()
            <= 2
        && let Some(form) = engine.corpus.form(&last)
    {
        return Ok(start_form(engine, context, next, &form));
    }

    next.candidates.clear();

    if let Some(intent) = signals.decided {
        return Ok((next, canned(engine, intent)));
    }
    // A follow-up on the topic under discussion (“周六能去吗”, “可以委托别人吗”): answered on it
    // unless the message names another service.
    if !signals.chitchat
        && let Some(topic) = follow_up_topic(engine, state, message, named)?
    {
        return Ok(answer_guide(engine, next, &topic, focus, message));
    }
    if engine.default_mode() != crate::Mode::Bm25 {
        return semantic_turn(engine, context, state, next, message, focus, &signals, applying);
    }
    let corrected = engine.index.correct(message);
    let understood = corrected.as_deref().unwrap_or(message);
    let hits = engine.index.rank(understood, 5)?;
    let thresholds = engine.thresholds;
    let top_confidence = hits.first().map_or(0.0, confidence);

    if signals.chitchat && top_confidence < thresholds.answer {
        return Ok((next, canned(engine, Intent::Chitchat)));
    }
    // A follow-up about the guide just discussed: “那要带什么材料？”
    if let Some(last) = &state.last_guide
        && focus != Focus::General
        && top_confidence < thresholds.answer
        && Focus::is_bare_follow_up(&engine.corpus.phrases, message)
    {
        let last = last.clone();
        return Ok(answer_guide(engine, next, &last, focus, message));
    }
    // “持枪证怎么办”, “商标注册”: a document or a service no guide knows is out of scope,
    // unless retrieval is sure.
    if top_confidence < thresholds.answer + thresholds.unknown_margin
        && let Some(name) = unknown_document(&engine.corpus.phrases, &engine.index, understood)
            .or_else(|| unknown_service(&engine.corpus.phrases, &engine.index, understood))
            .or_else(|| unknown_qualifier(&engine.corpus.phrases, &engine.index, understood))
    {
        let intent = if signals.complaint_hint {
            Intent::Complaint
        } else {
            Intent::OutOfScope
        };
        let near = hits.first().filter(|_| top_confidence >= thresholds.clarify);
        return Ok((next, fallback_near(engine, intent, &name, near.map(|h| h.id.as_str()))));
    }
    // The best guide never speaks of what is asked (补办 where the guide only renews).
    let ids: Vec<&str> = hits.iter().take(3).map(|h| h.id.as_str()).collect();
    if let Some(top) = hits.first()
        && misfit_all(engine, &top.id, &ids, understood)
    {
        return Ok((
            next,
            fallback_near(engine, Intent::OutOfScope, understood, Some(&top.id)),
        ));
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
        if applying && let Some(form) = engine.corpus.form(&id) {
            next.last_guide = Some(id);
            return Ok(start_form(engine, context, next, &form));
        }
        let (next, mut reply) = answer_guide(engine, next, &id, focus, message);
        reply.guides = hits.iter().map(guide_hit).collect();
        return Ok((next, reply));
    }
    if signals.complaint_hint && top_confidence < thresholds.answer {
        let outcome = crate::tickets::start(message, context.user.is_some());
        return Ok(intake_reply(next, outcome));
    }
    // Plausible but not certain, or several guides fit as well: ask which one.
    let options: Vec<&index::Hit> = if close.len() > 1 {
        close
    } else {
        hits.iter().take(3).collect()
    };
    next.candidates = options.iter().map(|h| h.id.clone()).collect();
    next.last_options = next.candidates.clone();
    let mut text = String::from("您想了解的是下面哪一项？请点选或回复序号：");
    for (i, hit) in options.iter().enumerate() {
        text.push_str(&format!("\n{}. {}", i + 1, hit.title));
    }
    let mut quick_replies: Vec<String> = options.iter().map(|h| h.title.clone()).collect();
    quick_replies.push(QUICK_REPHRASE.to_string());
    let mut reply = Reply::new(Intent::Service, text, quick_replies);
    reply.guides = hits.iter().map(guide_hit).collect();
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
    let digit = text.trim().trim_end_matches('.');
    if let Ok(n) = digit.parse::<usize>()
        && (1..=candidates.len()).contains(&n)
    {
        return Some(candidates[n - 1].clone());
    }
    if let Some(id) = pick_ordinal(engine, candidates, message) {
        return Some(id);
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

/// “第二个” / “前面那个” / “the first one”: the option at that place among those listed, by
/// the ordinal words of `phrases.toml`.
fn pick_ordinal(engine: &Engine, options: &[String], message: &str) -> Option<String> {
    let text = index::normalize(message);
    engine.corpus.phrases.ordinals().iter().find_map(|ordinal| {
        ordinal.words.iter().any(|w| text.contains(w.as_str())).then(|| {
            let i = match ordinal.place {
                0 => options.len().saturating_sub(1),
                place => place - 1,
            };
            options.get(i).cloned()
        })?
    })
}

/// The services a message lists (“上户口和办医保都要准备什么”), in its order: the message
/// cut at the words that join a list (`phrases.toml` `[words]` `conjunctions`), each part's
/// best guide where its own words match it strongly (or, failing that, the encoder reads it:
/// [`understood_part`]). Fewer than two: none. Only remembered as the options a later
/// “第二个” picks; the answer itself is decided as for any message.
fn listed_services(engine: &Engine, message: &str) -> Result<Vec<String>> {
    let text = index::normalize(message);
    let mut parts = vec![text];
    for word in engine.corpus.phrases.words(lists::CONJUNCTIONS) {
        parts = parts
            .iter()
            .flat_map(|part| part.split(word.as_str()).map(str::to_string).collect::<Vec<_>>())
            .collect();
    }
    // One part lists nothing: no search on the way of every other message.
    if parts.len() < 2 {
        return Ok(Vec::new());
    }
    let mut listed: Vec<String> = Vec::new();
    for part in parts
        .iter()
        .filter(|p| p.chars().filter(|c| c.is_alphanumeric()).count() >= 2)
    {
        let lexical = engine
            .index
            .search(part, 1)?
            .into_iter()
            .next()
            .filter(|top| confidence(top) >= engine.thresholds.answer)
            .map(|top| top.id);
        // Words the guides do not use (English, plain speech): the encoder's reading, when the
        // intent head is sure the part asks for a service and one guide stands out.
        let id = match lexical {
            Some(id) => Some(id),
            None => understood_part(engine, part)?,
        };
        if let Some(id) = id
            && !listed.contains(&id)
        {
            listed.push(id);
        }
    }
    Ok(if listed.len() >= 2 { listed } else { Vec::new() })
}

/// The guide one part of a list asks about, by the encoder: the intent head's likeliest intent
/// is a service (a bare “my car's inspection” is not a sure one, but a list of services makes
/// it one) and the best guide's fused score leads the next by `list_part_lead`. Without the
/// encoder: none.
fn understood_part(engine: &Engine, part: &str) -> Result<Option<String>> {
    let Some(probabilities) = engine.intent_probabilities(part)? else {
        return Ok(None);
    };
    let p_service = probabilities
        .iter()
        .find(|(label, _)| label == "service")
        .map_or(0.0, |(_, p)| *p);
    if probabilities
        .iter()
        .any(|(label, p)| label != "service" && *p >= p_service)
    {
        return Ok(None);
    }
    let ranked = engine.retrieve(part, 2, engine.default_mode())?;
    Ok(match ranked.as_slice() {
        [top] => Some(top.id.clone()),
        [top, second, ..] if top.score >= second.score * engine.thresholds.list_part_lead => Some(top.id.clone()),
        _ => None,
    })
}

/// The guides a message names by a whole title or alias, in the order it names them.
fn named_guides(engine: &Engine, message: &str) -> Vec<String> {
    let text = index::normalize(message);
    let mut found: Vec<(usize, &str)> = Vec::new();
    for (name, id) in &engine.names {
        if let Some(at) = text.find(name.as_str()) {
            match found.iter_mut().find(|(_, known)| *known == id) {
                Some(entry) => entry.0 = entry.0.min(at),
                None => found.push((at, id)),
            }
        }
    }
    found.sort();
    found.into_iter().map(|(_, id)| id.to_string()).collect()
}

/// Whether the message holds two characters of the guide's title that few titles share and
/// the title of `own` (the form's service) does not (护照 of 普通护照申请; not 申请, which many
/// titles hold, nor 身份证 while renewing an ID card).
fn echoes_title(engine: &Engine, message: &str, id: &str, own: &str) -> bool {
    let (Some(guide), Some(own)) = (engine.corpus.guide(id), engine.corpus.guide(own)) else {
        return false;
    };
    let text = index::normalize(message);
    let title: Vec<char> = guide.title.chars().collect();
    title.windows(2).any(|pair| {
        let bigram: String = pair.iter().collect();
        pair.iter().all(|c| c.is_alphanumeric())
            && text.contains(&bigram)
            && !own.title.contains(&bigram)
            && engine
                .corpus
                .guides
                .iter()
                .filter(|g| g.title.contains(&bigram))
                .count()
                <= 2
    })
}

/// Longest message still taken as a follow-up (characters); a longer one tells a new story.
const FOLLOW_UP_MAX_CHARS: usize = 30;

/// The same for an English message, in words: an English word says about what a Chinese
/// character or two do (“How long until the money arrives?” is a short follow-up).
const FOLLOW_UP_MAX_WORDS: usize = 10;

/// Whether a message is short enough to be a follow-up.
fn short_enough(message: &str) -> bool {
    if compose::is_english(message) {
        message.split_whitespace().count() <= FOLLOW_UP_MAX_WORDS
    } else {
        message.chars().count() <= FOLLOW_UP_MAX_CHARS
    }
}

/// The topic a follow-up is about: the guide under discussion, when the message is short,
/// names no other guide (by title or alias), no other guide matches its words strongly, and
/// it names no document or service that no guide offers (those are declined as usual).
fn follow_up_topic(engine: &Engine, state: &DialogueState, message: &str, named: &[String]) -> Result<Option<String>> {
    let Some(topic) = state.last_guide.clone() else {
        return Ok(None);
    };
    if !short_enough(message) || engine.corpus.guide(&topic).is_none() {
        return Ok(None);
    }
    if named.iter().any(|id| *id != topic) {
        return Ok(None);
    }
    let hits = engine.index.rank(message, 3)?;
    // Another guide matches, on words the topic's guide never uses (“护照” in a talk about the
    // Hong Kong permit); words the topic's guide uses too (“户口” in a talk about marriage
    // registration, whose materials name the household register) keep the topic.
    // Or the message says another guide's name (“那暂住证呢” after the criminal-record
    // certificate, whose materials mention the residence permit): a noun of that guide's
    // title or aliases that the topic's own title and aliases do not have (not a verb by the
    // dictionary's tags: “检查” names no service, whatever titles it stands in).
    let is_noun = |word: &str| {
        let tagged = engine.index.tagged(word);
        tagged.len() == 1 && !tagged[0].1.starts_with('v')
    };
    // … and the message is little more than that word (“那暂住证呢”): in “非本地户口的也行吗”
    // after marriage registration, 户口 is part of a question about the topic.
    let says_little_else = |word: &str| message.chars().count() <= word.chars().count() + 2;
    let names = |id: &str, word: &str| {
        engine
            .names
            .iter()
            .any(|(name, named)| named == id && name.contains(word))
    };
    if let Some(top) = hits.first()
        && top.id != topic
        && confidence(top) >= engine.thresholds.clarify
        && engine.index.words(message).iter().any(|w| {
            (engine.index.guide_mentions(&top.id, w) && !engine.index.guide_mentions(&topic, w))
                || (names(&top.id, w) && !names(&topic, w) && is_noun(w) && says_little_else(w))
        })
    {
        return Ok(None);
    }
    if unknown_document(&engine.corpus.phrases, &engine.index, message).is_some()
        || unknown_service(&engine.corpus.phrases, &engine.index, message).is_some()
    {
        return Ok(None);
    }
    Ok(Some(topic))
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
    let (text, citations) = if compose::is_english(message) {
        compose::answer_en(&engine.corpus, guide, focus)
    } else {
        compose::answer(&engine.corpus, guide, focus, faq)
    };
    next.last_guide = Some(guide.id.clone());
    let mut quick_replies: Vec<String> = ["需要哪些材料", "要多长时间", "在哪里办理"]
        .into_iter()
        .filter(|q| Focus::detect(&engine.corpus.phrases, q) != focus)
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
    if focus != Focus::Full {
        quick_replies.push(compose::FULL_GUIDE.to_string());
    }
    quick_replies.push(QUICK_HUMAN.to_string());
    if engine.corpus.form(&guide.id).is_some() {
        quick_replies.insert(0, "在线办理".to_string());
    }
    let mut text = text;
    if let Some(paused) = &next.paused_form {
        let title = engine
            .corpus
            .guide(&paused.service_id)
            .map_or(paused.service_id.as_str(), |g| g.title.as_str());
        text.push_str(&format!(
            "\n\n您有一份未完成的《{title}》申请，回复“继续办理”可接着填写。"
        ));
        quick_replies.insert(0, "继续办理".to_string());
    }
    let mut reply = Reply::new(Intent::Service, text, quick_replies);
    reply.citations = citations;
    reply.guides = vec![GuideHit {
        id: guide.id.clone(),
        title: guide.title.clone(),
        score: 0.0,
    }];
    (next, reply)
}

/// The FAQ whose question shares most of its terms with the message, if close enough.
fn best_faq(engine: &Engine, guide: &knowledge::Guide, message: &str) -> Option<usize> {
    let asked: HashSet<String> = engine.index.terms(message).into_iter().collect();
    if asked.len() < 2 {
        return None;
    }
    let normalized = index::normalize(message);
    let mut best: Option<(usize, f32)> = None;
    for (i, faq) in guide.faq.iter().enumerate() {
        let terms: HashSet<String> = engine.index.terms(&faq.q).into_iter().collect();
        let shared = asked.intersection(&terms).count();
        let union = asked.union(&terms).count();
        let jaccard = shared as f32 / union.max(1) as f32;
        // An FAQ narrower than the question (“小孩的…” for anyone's) would answer someone else.
        let narrower = engine
            .index
            .words(&faq.q)
            .iter()
            .any(|w| !normalized.contains(&index::normalize(w)));
        if shared >= 2 && jaccard >= engine.thresholds.faq_overlap && !narrower && best.is_none_or(|(_, b)| jaccard > b)
        {
            best = Some((i, jaccard));
        }
    }
    best.map(|(i, _)| i)
}

fn hotline(engine: &Engine) -> String {
    engine
        .corpus
        .department(&engine.corpus.phrases.assistant().hotline_department)
        .map_or_else(|| "12345".to_string(), |d| d.hotline.clone())
}

/// Honest "not found", with the ways forward.
/// Whether the best guide `top` misses what the message asks (see [`misfit`]) and no other
/// close guide (`close`) is the one for the document said to be lost: a message about a lost
/// card and, besides, a benefit to claim asks about two services, and the card's guide, close
/// too, names the lost card and replaces it.
fn misfit_all(engine: &Engine, top: &str, close: &[&str], message: &str) -> bool {
    let words = &engine.corpus.phrases;
    let lost = lost_elsewhere(words, &engine.index, top, message);
    let Some(lost) = lost else {
        return unoffered_action(words, &engine.index, top, message).is_some();
    };
    !close
        .iter()
        .any(|id| engine.index.in_scope(id, &lost) && !misfit(words, &engine.index, id, message))
}

fn fallback(engine: &Engine, intent: Intent, message: &str) -> Reply {
    fallback_near(engine, intent, message, None)
}

/// The decline of a look-alike: what was asked is not covered, said plainly, and the covered
/// service next to it (guide `near`) named as related, not as the answer: no guide is offered
/// as one (`guides` stays empty), only a quick reply to read about the related service.
fn fallback_near(engine: &Engine, intent: Intent, message: &str, near: Option<&str>) -> Reply {
    if intent == Intent::Complaint {
        return canned(engine, intent);
    }
    let shown: String = message.chars().take(30).collect();
    let near = near.and_then(|id| engine.corpus.guide(id));
    let related = near.map_or(String::new(), |guide| {
        format!(
            "\n本市办事指南里有相近的事项“{}”，但它不是您问的这一项，办理要求可能不同，请勿照此准备。\n",
            guide.title
        )
    });
    let text = format!(
        "抱歉，没有找到与“{shown}”相关的办事指南，我不想给您不准确的信息。{related}您可以：\n1. 换个说法再问一次（例如说出要办的证件或事项名称）；\n2. 转人工客服；\n3. 拨打 {} 热线（7×24 小时）或提交12345工单。",
        hotline(engine)
    );
    let mut quick_replies = vec![
        QUICK_REPHRASE.to_string(),
        QUICK_HUMAN.to_string(),
        QUICK_TICKET.to_string(),
    ];
    if let Some(guide) = near {
        quick_replies.push(guide.title.clone());
    }
    Reply::new(intent, text, quick_replies)
}

/// Replies for the intents that do not need a guide.
fn canned(engine: &Engine, intent: Intent) -> Reply {
    let hotline = hotline(engine);
    let (text, quick_replies): (String, Vec<&str>) = match intent {
        Intent::Human => (
            format!("好的，正在为您转接人工客服，请稍候；也可以拨打 {hotline} 热线（7×24 小时）。"),
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
        Intent::Chitchat => {
            let assistant = engine.corpus.phrases.assistant();
            (
                assistant.greeting.clone(),
                assistant.suggestions.iter().map(String::as_str).collect(),
            )
        }
        Intent::Service | Intent::OutOfScope => return fallback(engine, Intent::OutOfScope, ""),
    };
    Reply::new(intent, text, quick_replies.into_iter().map(str::to_string).collect())
}

fn strip_words(text: &str, words: &[String]) -> String {
    words
        .iter()
        .fold(text.to_string(), |rest, w| rest.replace(w.as_str(), ""))
}

fn start_form(
    engine: &Engine,
    context: &crate::Context<'_>,
    mut next: DialogueState,
    form: &knowledge::Form,
) -> (DialogueState, Reply) {
    next.paused_form = None;
    let state = crate::forms::start(form, context, next.n_turns);
    let outcome = crate::forms::opening(&engine.corpus, form, state, context);
    let (next, mut reply) = finish_form(next, form, outcome);
    // The reply is about the service applied for.
    if let Some(guide) = engine.corpus.guide(&form.service_id) {
        reply.guides = vec![GuideHit {
            id: guide.id.clone(),
            title: guide.title.clone(),
            score: 1.0,
        }];
    }
    (next, reply)
}

fn continue_form(
    engine: &Engine,
    context: &crate::Context<'_>,
    next: DialogueState,
    form_state: crate::FormState,
    message: &str,
) -> (DialogueState, Reply) {
    let Some(form) = engine.corpus.form(&form_state.service_id) else {
        // The form was removed in a reload: drop it honestly.
        let mut next = next;
        next.form = None;
        let reply = Reply::new(
            Intent::Service,
            "该事项暂不支持在线办理，请到窗口办理或转人工咨询。".into(),
            vec![QUICK_HUMAN.into()],
        );
        return (next, reply);
    };
    // “要交钱吗”, “要带什么” in the middle of a form: a question about the service, not an
    // answer to the field asked (which it does not pass). Answered from the guide, then the
    // same question is asked again; nothing of the form changes.
    let focus = Focus::detect(&engine.corpus.phrases, message);
    let awaited = form_state
        .awaiting
        .as_deref()
        .and_then(|a| form.fields.iter().find(|f| f.name == a));
    let answers_field = awaited.is_some_and(|f| f.check(message).is_ok());
    let question = message.trim_end().ends_with(['?', '？', '吗', '呢']);
    if !matches!(focus, Focus::General | Focus::Full)
        && (!answers_field || question)
        && form_state.phase == crate::forms::Phase::Collecting
        && let Some(guide) = engine.corpus.guide(&form.service_id)
    {
        let (text, citations) = compose::answer(&engine.corpus, guide, focus, best_faq(engine, guide, message));
        let again = crate::forms::next_question(&form, form_state, &guide.title, context);
        let outcome = crate::forms::Outcome {
            text: format!("{text}\n\n继续填写：{}", again.text),
            ..again
        };
        let (next, mut reply) = finish_form(next, &form, outcome);
        reply.citations = citations;
        return (next, reply);
    }
    let outcome = crate::forms::turn(&engine.corpus, &form, form_state, context, message);
    finish_form(next, &form, outcome)
}

fn finish_form(
    mut next: DialogueState,
    form: &knowledge::Form,
    outcome: crate::forms::Outcome,
) -> (DialogueState, Reply) {
    let view_state = outcome.form.clone();
    next.form = outcome.form;
    let mut reply = Reply::new(Intent::Service, outcome.text, outcome.quick_replies);
    reply.effect = outcome.effect;
    reply.form = match (&view_state, &next.form) {
        (Some(state), _) => Some(crate::forms::view(form, state, outcome.ended)),
        (None, _) => Some(crate::FormView {
            service_id: form.service_id.clone(),
            state: outcome.ended.unwrap_or("cancelled").to_string(),
            fields: Vec::new(),
            missing: Vec::new(),
            uploads: Vec::new(),
        }),
    };
    next.last_guide = Some(form.service_id.clone());
    (next, reply)
}

fn intake_reply(mut next: DialogueState, outcome: crate::tickets::IntakeOutcome) -> (DialogueState, Reply) {
    next.ticket = outcome.draft;
    let mut reply = Reply::new(Intent::Complaint, outcome.text, outcome.quick_replies);
    reply.effect = outcome.request.map(crate::Effect::CreateTicket);
    (next, reply)
}

fn level_quick_replies() -> Vec<String> {
    crate::tickets::LEVELS.iter().rev().map(|l| l.to_string()).collect()
}

/// The citizen confirms their request is resolved: the caller records it; the reply thanks
/// them and offers a rating of it. Intent `status`: it is about a request they already have.
fn confirm_resolved(mut next: DialogueState, context: &crate::Context<'_>) -> (DialogueState, Reply) {
    if context.user.is_none() {
        let text = "确认诉求已解决需要先登录（统一身份认证），这样才能找到您的工单并记录您的确认；匿名诉求可拨打 12345 反馈办理结果。".to_string();
        return (next, Reply::new(Intent::Status, text, vec!["登录".into()]));
    }
    let number = next
        .rateable
        .as_ref()
        .filter(|(kind, _)| kind == "ticket")
        .map(|(_, id)| id.clone());
    next.rating = Some(crate::tickets::RatingDraft {
        level: None,
        offered: true,
    });
    let text = "很高兴您的问题已经解决，感谢您告诉我们！我们会记录您的确认，并告知承办部门。方便的话，请为这次办理评价：非常满意、满意、基本满意、不满意、非常不满意。".to_string();
    let mut reply = Reply::new(Intent::Status, text, level_quick_replies());
    reply.effect = Some(crate::Effect::ConfirmTicket { number });
    (next, reply)
}

/// “我要差评”, “差评，窗口态度很差”: rates the last application or ticket, or else this
/// conversation; what the message says besides the verdict is the reason.
fn start_rating(
    engine: &Engine,
    next: DialogueState,
    context: &crate::Context<'_>,
    message: &str,
) -> (DialogueState, Reply) {
    if context.user.is_none() {
        let text = "评价需要先登录（统一身份认证），这样每项服务每人只评一次，差评也能转给部门整改并回访。".to_string();
        return (next, Reply::new(Intent::Rating, text, vec!["登录".into()]));
    }
    let draft = crate::tickets::RatingDraft {
        level: None,
        offered: false,
    };
    rating_turn(&engine.corpus.phrases, next, draft, context, message)
}

fn rating_turn(
    phrases: &knowledge::Phrases,
    mut next: DialogueState,
    mut draft: crate::tickets::RatingDraft,
    context: &crate::Context<'_>,
    message: &str,
) -> (DialogueState, Reply) {
    if context.user.is_none() || message.contains("取消") {
        next.rating = None;
        return (next, Reply::new(Intent::Rating, "好的，本次不评价。".into(), vec![]));
    }
    let target_label = match next.rateable.as_ref().map(|(kind, _)| kind.as_str()) {
        Some("application") => "您刚办理的申请",
        Some("ticket") => "您的诉求办理情况",
        _ => "本次对话服务",
    };
    // The message that gives the level gives its reason alongside; once the level is
    // known, the whole answer is the reason.
    let reason = match draft.level {
        Some(_) => message.trim().to_string(),
        None => match crate::tickets::read_rating(phrases, message) {
            Some(reading) => {
                draft.level = Some(reading.level);
                reading.reason
            }
            None => String::new(),
        },
    };
    let Some(level) = draft.level else {
        draft.offered = false;
        next.rating = Some(draft);
        let text = format!("请为{target_label}评价：非常满意、满意、基本满意、不满意、非常不满意。");
        return (next, Reply::new(Intent::Rating, text, level_quick_replies()));
    };
    if level <= 2 && reason.chars().filter(|c| c.is_alphanumeric()).count() < 2 {
        draft.offered = false;
        next.rating = Some(draft);
        let text = format!(
            "很抱歉让您不满意。请说明原因（例如：{}），我们会转交责任部门核实整改，并在整改后回访您。",
            crate::tickets::TAGS.join("、")
        );
        let quick = crate::tickets::TAGS.iter().map(|t| t.to_string()).collect();
        return (next, Reply::new(Intent::Rating, text, quick));
    }
    next.rating = None;
    let tags = crate::tickets::tags_of(phrases, level, &reason);
    let target = next
        .rateable
        .clone()
        .unwrap_or_else(|| ("conversation".to_string(), String::new()));
    let mut reply = Reply::new(Intent::Rating, String::new(), vec![]);
    reply.effect = Some(crate::Effect::Rate {
        target,
        rating: crate::RatingRequest {
            level,
            comment: reason,
            tags,
        },
    });
    (next, reply)
}

/// Moves a bundle or combined licence among the top three to the front when the message asks
/// for everything at once; returns whether it did.
fn promote_bundle(engine: &Engine, message: &str, ranked: &mut [crate::Ranked]) -> bool {
    let is_bundle = |id: &str| {
        engine.corpus.guide(id).is_some_and(|g| {
            matches!(
                g.kind,
                knowledge::GuideKind::Bundle | knowledge::GuideKind::CombinedLicense
            )
        })
    };
    if ranked.first().is_some_and(|r| is_bundle(&r.id)) {
        return false;
    }
    let Some(at) = ranked.iter().take(3).position(|r| is_bundle(&r.id)) else {
        return false;
    };
    // Only when asked for at once: two of its parts next to it are no sign (measured: a
    // question about one part finds the other parts and the bundle too).
    let text = index::normalize(message);
    if !engine
        .corpus
        .phrases
        .words(lists::BUNDLE)
        .iter()
        .any(|cue| text.contains(cue.as_str()))
    {
        return false;
    }
    let top_score = ranked[0].score;
    ranked[..=at].rotate_right(1);
    ranked[0].score = ranked[0].score.max(top_score);
    true
}

/// The turn when the encoder is installed: the intent head decides what kind of message it
/// is (rules above it keep the cases words make clear), hybrid retrieval finds the guide.
#[allow(clippy::too_many_arguments)]
fn semantic_turn(
    engine: &Engine,
    context: &crate::Context<'_>,
    state: &DialogueState,
    next: DialogueState,
    message: &str,
    focus: Focus,
    signals: &crate::Signals,
    applying: bool,
) -> Result<(DialogueState, Reply)> {
    // Homophone typos (低报 → 低保) are corrected for understanding; the citizen's own words
    // are kept for anything stored (a ticket's text).
    let corrected = engine.index.correct(message);
    let understood = corrected.as_deref().unwrap_or(message);
    let probabilities = engine.intent_probabilities(understood)?.unwrap_or_default();
    let p = |label: &str| probabilities.iter().find(|(l, _)| l == label).map_or(0.0, |(_, p)| *p);
    let (head_intent, head_p) = probabilities
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(("service", 1.0), |(l, p)| (l.as_str(), *p));
    let mut ranked = engine.retrieve(understood, 5, engine.default_mode())?;
    // The guides' own words: a strong lexical match outweighs the head's doubt.
    let lexical = ranked.first().and_then(|r| r.bm25.as_ref()).map_or(0.0, confidence);
    let promoted = promote_bundle(engine, understood, &mut ranked);

    // A follow-up about the guide just discussed: “那要带什么材料？”
    if let Some(last) = &state.last_guide
        && focus != Focus::General
        && Focus::is_bare_follow_up(&engine.corpus.phrases, message)
    {
        let last = last.clone();
        return Ok(answer_guide(engine, next, &last, focus, message));
    }
    let strong_lexical = lexical >= engine.thresholds.answer;
    if signals.chitchat && head_intent != "service" && !strong_lexical {
        return Ok((next, canned(engine, Intent::Chitchat)));
    }
    // The head's choice stands when it is confident, or when it gives a service almost no
    // chance and no guide's own words match (“Hello, who am I talking to?”).
    let t = &engine.thresholds;
    let sure = head_p >= t.head_sure || (p("service") < t.head_no_service && !strong_lexical);
    match head_intent {
        "complaint"
            if head_p >= t.head_complaint
                && !(asks_how_to_get(&engine.corpus.phrases, understood)
                    && strong_lexical
                    && head_p < t.head_complaint_over_how_to) =>
        {
            return Ok(intake_reply(
                next,
                crate::tickets::start(message, context.user.is_some()),
            ));
        }
        "chitchat" if sure && !strong_lexical => return Ok((next, canned(engine, Intent::Chitchat))),
        "human" if sure => return Ok((next, canned(engine, Intent::Human))),
        "rating" if sure => return Ok(start_rating(engine, next, context, message)),
        "status" if sure => {
            if context.user.is_some() {
                let mut reply = Reply::new(Intent::Status, String::new(), Vec::new());
                reply.effect = Some(crate::Effect::ListStatus);
                return Ok((next, reply));
            }
            return Ok((next, canned(engine, Intent::Status)));
        }
        _ => {}
    }
    let p_service = p("service");
    // Out of scope when the head says so, or when a named document is unknown to every
    // guide and the head is not sure of a service.
    // A service named as object + verb that no guide offers (离婚登记 next to 结婚登记) is
    // out of scope unless the head is sure.
    let unknown = unknown_document(&engine.corpus.phrases, &engine.index, understood)
        .filter(|_| p_service < t.unknown_document_max_p)
        .or_else(|| {
            unknown_service(&engine.corpus.phrases, &engine.index, understood)
                .filter(|_| p_service < t.unknown_service_max_p)
        })
        // A document of a covered family with a qualifier no guide speaks of: whatever the
        // head says, the guides do not cover it (the head only knows it looks like a service).
        .or_else(|| unknown_qualifier(&engine.corpus.phrases, &engine.index, understood));
    // The best guide never speaks of what is asked (补办 where the guide only renews), and
    // neither does any other close one: when one of them does (a lost card to replace next to a benefit to claim
    // in one message), the message asks about two services, not about a look-alike.
    let unknown = unknown.or_else(|| {
        let top = ranked.first()?;
        let ids: Vec<&str> = ranked.iter().take(3).map(|r| r.id.as_str()).collect();
        misfit_all(engine, &top.id, &ids, understood).then(|| understood.to_string())
    });
    // The best guide, by the coverage model learned from the corpus, does not offer the very
    // thing asked: a service next to it.
    // (Not when one guide stands far above every other: the message is about it.)
    let unknown = unknown.or_else(|| {
        let top = ranked.first()?;
        let clear = ranked
            .get(1)
            .is_none_or(|second| second.score < top.score * t.covered_clear_lead);
        (!clear && engine.p_covered(understood, &top.id)? < t.covered_min).then(|| understood.to_string())
    });
    let head_declines = p("out_of_scope") > p_service && !strong_lexical;
    if head_declines || unknown.is_some() || ranked.is_empty() {
        if signals.complaint_hint && p("complaint") > p("out_of_scope") {
            return Ok(intake_reply(
                next,
                crate::tickets::start(message, context.user.is_some()),
            ));
        }
        // Named as related when the guides' own words led to it: a coverage check fired on it,
        // or its words match though the head declines (not for the weather).
        let near = ranked
            .first()
            .filter(|_| unknown.is_some() || lexical >= engine.thresholds.clarify)
            .map(|r| r.id.as_str());
        return Ok((
            next,
            fallback_near(engine, Intent::OutOfScope, unknown.as_deref().unwrap_or(message), near),
        ));
    }
    let top = &ranked[0];
    let close: Vec<&crate::Ranked> = ranked
        .iter()
        .take(3)
        .filter(|r| r.score >= top.score * engine.thresholds.hybrid_ambiguous_ratio)
        .collect();
    let guides: Vec<GuideHit> = ranked
        .iter()
        .map(|r| GuideHit {
            id: r.id.clone(),
            title: r.title.clone(),
            score: r.score,
        })
        .collect();
    if close.len() == 1 || p_service >= t.head_service_sure || promoted {
        let id = top.id.clone();
        if applying && let Some(form) = engine.corpus.form(&id) {
            let mut next = next;
            next.last_guide = Some(id);
            return Ok(start_form(engine, context, next, &form));
        }
        let (next, mut reply) = answer_guide(engine, next, &id, focus, message);
        reply.guides = guides;
        return Ok((next, reply));
    }
    let mut next = next;
    next.candidates = close.iter().map(|r| r.id.clone()).collect();
    next.last_options = next.candidates.clone();
    let mut text = String::from("您想了解的是下面哪一项？请点选或回复序号：");
    for (i, r) in close.iter().enumerate() {
        text.push_str(&format!("\n{}. {}", i + 1, r.title));
    }
    let mut quick_replies: Vec<String> = close.iter().map(|r| r.title.clone()).collect();
    quick_replies.push(QUICK_REPHRASE.to_string());
    let mut reply = Reply::new(Intent::Service, text, quick_replies);
    reply.guides = guides;
    Ok((next, reply))
}

#[cfg(test)]
mod bundle_tests {
    use super::promote_bundle;
    use crate::{Engine, Ranked};

    fn ranked(ids: &[&str]) -> Vec<Ranked> {
        ids.iter()
            .enumerate()
            .map(|(i, id)| Ranked {
                id: id.to_string(),
                title: id.to_string(),
                score: 1.0 - i as f32 * 0.1,
                bm25: None,
                dense: None,
            })
            .collect()
    }

    #[test]
    fn asking_for_everything_at_once_brings_the_bundle_first() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../knowledge/data");
        let corpus = knowledge::Corpus::load(&dir).unwrap().corpus;
        let engine = Engine::new(corpus, index::IndexConfig::default()).unwrap();
        let order = [
            "food-business-permit",
            "restaurant-comprehensive-license",
            "fire-safety-inspection",
        ];

        let mut list = ranked(&order);
        assert!(promote_bundle(&engine, "开饭馆那些证能不能一起办", &mut list));
        let ids: Vec<&str> = list.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "restaurant-comprehensive-license",
                "food-business-permit",
                "fire-safety-inspection"
            ]
        );
        assert!(list[0].score >= list[1].score);

        // No cue, or a cue only in passing (“第一次办”): the order stands.
        for message in ["食品经营许可证要什么材料", "第一次办食品经营许可证"] {
            let mut list = ranked(&order);
            assert!(!promote_bundle(&engine, message, &mut list), "{message}");
            assert_eq!(list[0].id, "food-business-permit");
        }
        // The bundle must be among the top three.
        let mut list = ranked(&[order[0], order[2], "passport", order[1]]);
        assert!(!promote_bundle(&engine, "那些证能不能一起办", &mut list));
    }
}

#[cfg(test)]
mod phrase_tests {
    use std::sync::LazyLock;

    use super::*;
    use crate::{Context, Effect, UserContext};

    static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../knowledge/data");
        let corpus = knowledge::Corpus::load(&dir).unwrap().corpus;
        Engine::new(corpus, index::IndexConfig::default()).unwrap()
    });

    /// A question about the service in the middle of a form is answered from the guide, and
    /// the form goes on where it was.
    #[test]
    fn a_question_inside_a_form_is_answered_and_the_form_goes_on() {
        let state = DialogueState::default();
        let (state, opened) = respond(&ENGINE, &Context::anonymous(), &state, "我要在线办理身份证到期换领").unwrap();
        let awaiting = state.form.as_ref().unwrap().awaiting.clone();
        assert!(awaiting.is_some(), "{}", opened.text);
        let (state, reply) = respond(&ENGINE, &Context::anonymous(), &state, "要交钱吗").unwrap();
        assert!(
            reply.text.contains("继续填写") && reply.text.contains("元"),
            "{}",
            reply.text
        );
        assert!(
            reply.citations.iter().any(|c| c.section == "fees"),
            "{:?}",
            reply.citations
        );
        assert_eq!(
            state.form.as_ref().unwrap().awaiting,
            awaiting,
            "the same question again"
        );
        let (state, reply) = respond(&ENGINE, &Context::anonymous(), &state, "王小明").unwrap();
        assert_eq!(
            state
                .form
                .as_ref()
                .unwrap()
                .values
                .get("name")
                .map(|v| v.value.as_str()),
            Some("王小明"),
            "{}",
            reply.text
        );
    }

    /// Another service named in the middle of a form is answered; the form waits and
    /// “继续办理” brings it back where it was.
    #[test]
    fn another_service_asked_in_a_form_is_answered_and_the_form_kept() {
        let state = DialogueState::default();
        let (state, _) = respond(&ENGINE, &Context::anonymous(), &state, "我要在线办理身份证到期换领").unwrap();
        let (state, _) = respond(&ENGINE, &Context::anonymous(), &state, "王小明").unwrap();
        let (state, reply) = respond(&ENGINE, &Context::anonymous(), &state, "护照怎么办理").unwrap();
        assert_eq!(
            reply.guides.first().map(|g| g.id.as_str()),
            Some("passport"),
            "{}",
            reply.text
        );
        assert!(
            reply.text.contains("继续办理") && state.form.is_none(),
            "{}",
            reply.text
        );
        let (state, reply) = respond(&ENGINE, &Context::anonymous(), &state, "继续办理").unwrap();
        let form = state.form.as_ref().expect("resumed");
        assert_eq!(form.service_id, "id-card-renewal", "{}", reply.text);
        assert_eq!(form.values.get("name").map(|v| v.value.as_str()), Some("王小明"));
    }

    /// Another city's text and ordinal words come from its data: the greeting names that
    /// city with its own quick replies, and an ordinal word added to the data picks its option.
    #[test]
    fn a_city_of_its_own_speaks_from_its_data() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../knowledge/data");
        let mut corpus = knowledge::Corpus::load(&dir).unwrap().corpus;
        let mut assistant = corpus.phrases.assistant().clone();
        assistant.city = "临江市".into();
        assistant.greeting = "您好，我是临江市政务服务助手，请问您要办什么事？".into();
        assistant.suggestions = vec!["办护照".into()];
        assistant.address_example = "临江区望江路1号".into();
        corpus.phrases.assistant = Some(assistant);
        let mut ordinals = corpus.phrases.ordinals().to_vec();
        ordinals.push(knowledge::phrases::Ordinal {
            place: 2,
            words: vec!["老二".into()],
        });
        corpus.phrases.ordinals = ordinals;
        let engine = Engine::new(corpus, index::IndexConfig::default()).unwrap();
        let state = DialogueState::default();
        let (_, reply) = respond(&engine, &Context::anonymous(), &state, "你好").unwrap();
        assert!(
            reply.text.contains("临江市") && !reply.text.contains("示范市"),
            "{}",
            reply.text
        );
        assert_eq!(reply.quick_replies, ["办护照"]);
        let listed = DialogueState {
            last_options: vec!["passport".into(), "hk-macao-travel-permit".into()],
            last_guide: Some("passport".into()),
            ..DialogueState::default()
        };
        let (_, reply) = respond(&engine, &Context::anonymous(), &listed, "老二要多久").unwrap();
        assert_eq!(
            reply.citations.first().map(|c| c.guide_id.as_str()),
            Some("hk-macao-travel-permit"),
            "{}",
            reply.text
        );
    }

    /// A look-alike is declined plainly, with the covered service next to it named as related
    /// (a quick reply to read about it), never offered as the answer; the weather names none.
    #[test]
    fn a_look_alike_is_declined_with_its_neighbour_named_as_related() {
        let neighbour = ENGINE.corpus.guide("hk-macao-travel-permit").unwrap().title.clone();
        let state = DialogueState::default();
        let (_, reply) = respond(&ENGINE, &Context::anonymous(), &state, "大陆居民往来台湾通行证怎么办").unwrap();
        assert_eq!(reply.intent, Intent::OutOfScope, "{}", reply.text);
        assert!(reply.guides.is_empty() && reply.citations.is_empty(), "{reply:?}");
        assert!(
            reply.text.contains(neighbour.as_str()) && reply.text.contains("不是您问的这一项"),
            "{}",
            reply.text
        );
        assert!(reply.quick_replies.contains(&neighbour));
        assert!(reply.quick_replies.iter().any(|q| q == QUICK_TICKET));
        let (_, reply) = respond(&ENGINE, &Context::anonymous(), &state, "明天会下雨吗").unwrap();
        assert_eq!(reply.intent, Intent::OutOfScope, "{}", reply.text);
        assert!(!reply.text.contains("相近的事项"), "{}", reply.text);
    }

    fn citizen() -> UserContext {
        UserContext {
            id: "citizen-1".into(),
            name: "张三".into(),
            e_licenses: Vec::new(),
        }
    }

    fn after_ticket() -> DialogueState {
        DialogueState {
            rateable: Some(("ticket".into(), "12345-0001".into())),
            ..DialogueState::default()
        }
    }

    fn say(user: Option<&UserContext>, state: &DialogueState, message: &str) -> (DialogueState, Reply) {
        respond(&ENGINE, &Context::of(user), state, message).unwrap()
    }

    /// The rating recorded by a reply: (level, comment, tags).
    fn rated(reply: &Reply) -> (i64, String, Vec<String>) {
        match &reply.effect {
            Some(Effect::Rate { rating, .. }) => (rating.level, rating.comment.clone(), rating.tags.clone()),
            other => panic!("no rating: {other:?} {}", reply.text),
        }
    }

    #[test]
    fn a_bad_rating_worded_like_a_complaint_is_recorded_as_a_rating() {
        let user = citizen();
        let (next, reply) = say(Some(&user), &after_ticket(), "差评，窗口工作人员态度很差");
        assert_eq!(reply.intent, Intent::Rating);
        assert_eq!(
            rated(&reply),
            (2, "窗口工作人员态度很差".to_string(), vec!["态度差".to_string()])
        );
        assert!(next.ticket.is_none() && next.rating.is_none());

        let (_, reply) = say(Some(&user), &after_ticket(), "给个差评，让我跑了三趟");
        assert_eq!(
            rated(&reply),
            (2, "让我跑了三趟".to_string(), vec!["多次跑动".to_string()])
        );
    }

    #[test]
    fn a_neutral_rating_given_as_stars_is_a_rating() {
        let user = citizen();
        let (_, reply) = say(Some(&user), &after_ticket(), "三星吧");
        assert_eq!(reply.intent, Intent::Rating);
        assert_eq!(rated(&reply).0, 3);
    }

    #[test]
    fn a_resolved_complaint_is_confirmed_not_opened_again() {
        let user = citizen();
        let (next, reply) = say(Some(&user), &after_ticket(), "投诉已经解决了，谢谢");
        assert_eq!(
            reply.effect,
            Some(Effect::ConfirmTicket {
                number: Some("12345-0001".into())
            })
        );
        assert!(next.ticket.is_none());
        assert!(reply.text.contains("评价"), "{}", reply.text);
        // The rating offered is taken as such.
        let (_, reply) = say(Some(&user), &next, "非常满意");
        assert_eq!(rated(&reply).0, 5);

        for message in ["问题解决了", "我的投诉已经处理好了"] {
            let (next, reply) = say(Some(&user), &DialogueState::default(), message);
            assert_eq!(reply.effect, Some(Effect::ConfirmTicket { number: None }), "{message}");
            assert!(next.ticket.is_none(), "{message}");
            // Something else afterwards leaves the offer and is answered as usual.
            let (after, _) = say(Some(&user), &next, "护照怎么办");
            assert!(after.rating.is_none());
        }
    }

    #[test]
    fn an_anonymous_citizen_is_asked_to_log_in_to_confirm() {
        let (next, reply) = say(None, &DialogueState::default(), "投诉已经解决了，谢谢");
        assert_eq!(reply.effect, None);
        assert!(reply.text.contains("登录"), "{}", reply.text);
        assert!(next.ticket.is_none());
    }

    #[test]
    fn an_unresolved_or_asked_resolution_is_no_confirmation() {
        let user = citizen();
        for message in [
            "我的投诉还没解决",
            "问题解决了吗",
            "我反映的问题到现在都没有解决",
            "工单处理好了没有",
            "护照办好了，怎么领",
        ] {
            let (_, reply) = say(Some(&user), &after_ticket(), message);
            assert!(
                !matches!(reply.effect, Some(Effect::ConfirmTicket { .. })),
                "{message}: {}",
                reply.text
            );
        }
    }
}
