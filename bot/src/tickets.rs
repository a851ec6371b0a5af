//! 12345 intake in conversation: what happened, where, when, how to reach the citizen (or
//! anonymously), how urgent; a confirmation; then the caller creates the ticket. Also the
//! router that picks a ticket's category from its text, and rating in conversation (好差评).
//! Levels, urgency and "resolved" are read with negation and degree (`reading`), from the
//! word lists of `phrases.toml`.

use std::collections::HashMap;
use std::sync::LazyLock;

use knowledge::Phrases;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::reading::{Degree, Found, Reader, clauses, listed, n_units};

/// A complaint being taken down, kept in the dialogue state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketDraft {
    pub kind: String,
    pub what: Option<String>,
    pub location: Option<String>,
    pub when: Option<String>,
    pub contact: Option<String>,
    pub anonymous: Option<bool>,
    pub urgent: Option<bool>,
    pub awaiting: Option<String>,
    pub confirming: bool,
}

/// The ticket to create (the caller routes it and sets its deadlines).
#[derive(Debug, Clone, PartialEq)]
pub struct TicketRequest {
    pub kind: String,
    pub what: String,
    pub location: String,
    pub when: Option<String>,
    pub contact: Option<String>,
    pub anonymous: bool,
    pub urgent: bool,
}

/// A rating in progress: the level chosen, waiting for the reason of a bad one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatingDraft {
    pub level: Option<i64>,
    /// Offered, not asked for (after a confirmation): a message that is no rating leaves
    /// the rating and is answered as usual.
    #[serde(default)]
    pub offered: bool,
}

/// The rating to record.
#[derive(Debug, Clone, PartialEq)]
pub struct RatingRequest {
    pub level: i64,
    pub comment: String,
    pub tags: Vec<String>,
}

pub const LEVELS: [&str; 5] = ["非常不满意", "不满意", "基本满意", "满意", "非常满意"];

pub const TAGS: [&str; 6] = [
    "超时办理",
    "指南外增加材料",
    "态度差",
    "问题未解决",
    "多次跑动",
    "推诿扯皮",
];

/// The kind of request from the words used.
pub fn kind_of(text: &str) -> &'static str {
    if text.contains("举报") {
        "举报"
    } else if text.contains("建议") {
        "建议"
    } else if ["求助", "帮帮", "救助", "帮忙"].iter().any(|w| text.contains(w)) {
        "求助"
    } else if text.contains("咨询") {
        "咨询"
    } else {
        "投诉"
    }
}

/// Level from a reply (“非常满意”, “不是很满意”, “差评”, “5星”, “3”), with the built-in
/// phrases; the dialogue reads with the corpus's own ([`read_rating`]).
pub fn level_of(text: &str) -> Option<i64> {
    read_rating(knowledge::Phrases::builtin(), text).map(|r| r.level)
}

/// A rating read from a message: its level and what else the message says (the reason).
#[derive(Debug, Clone, PartialEq)]
pub struct RatingReading {
    pub level: i64,
    /// The clauses that are not the verdict itself (“给个差评，让我跑了三趟” → “让我跑了三趟”).
    pub reason: String,
}

static STARS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[★⭐]+").unwrap());
/// “4星”, “给4颗星”, “打三分”, “3分”; what follows is checked by hand (星期, 分钟 are no score).
static SCORE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[^0-9.十百千零几第])([1-5一二两三四五])\s*(?:颗|个)?\s*(星|分)").unwrap());
static OUT_OF_FIVE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[^0-9.])([1-5])\s*(?:/\s*5|out of 5|stars?\b)(?:$|[^0-9])").unwrap());

fn numeral(text: &str) -> Option<i64> {
    match text {
        "1" | "一" => Some(1),
        "2" | "二" | "两" => Some(2),
        "3" | "三" => Some(3),
        "4" | "四" => Some(4),
        "5" | "五" => Some(5),
        _ => None,
    }
}

/// A score given as stars or points, with where it is in `text` (normalised).
pub(crate) fn score_of(text: &str) -> Option<(i64, std::ops::Range<usize>)> {
    if let Some(m) = STARS.find(text) {
        let n = m.as_str().chars().count() as i64;
        return (1..=5).contains(&n).then(|| (n, m.range()));
    }
    for c in SCORE.captures_iter(text) {
        let (Some(number), Some(unit)) = (c.get(1), c.get(2)) else {
            continue;
        };
        let next = text[unit.end()..].chars().next();
        let not_a_score = match unit.as_str() {
            "星" => next == Some('期'),
            _ => next.is_some_and(|n| "钟钱之半".contains(n)),
        };
        if !not_a_score && let Some(level) = numeral(number.as_str()) {
            return Some((level, number.start()..unit.end()));
        }
    }
    if let Some(c) = OUT_OF_FIVE.captures(text)
        && let Some(number) = c.get(1)
    {
        return numeral(number.as_str())
            .map(|level| (level, number.start()..c.get(0).map_or(number.end(), |m| m.end())));
    }
    // A bare number is a score only as the whole answer (“3”, “四”).
    let bare = text.trim().trim_end_matches(['分', '星', '吧', '啊']);
    numeral(bare).map(|level| (level, 0..text.len()))
}

/// The level a word says with what surrounds it. Levels 4 and 2 move with degree and
/// negation; 5 and 1 keep theirs unless negated; 3 is 3.
fn level_with(found: &Found<(i64, bool)>) -> i64 {
    let (base, _) = found.value;
    let strong = |d: Option<Degree>| d == Some(Degree::Strong);
    match base {
        4 if found.negated() => {
            // 很不满意, 一点也不满意, not satisfied at all: the extreme. 不满意, 不太满意: 2.
            if strong(found.outer) || found.emphatic { 1 } else { 2 }
        }
        4 if found.double_negation() || found.outer == Some(Degree::Hedge) => 3,
        4 if strong(found.outer) || found.emphatic => 5,
        2 if found.negated() => {
            // 不差 reads as 不错; 不太差 only as passable.
            if found.inner.is_some() { 3 } else { 4 }
        }
        2 if found.double_negation() => 3,
        2 if strong(found.outer) || found.emphatic => 1,
        5 if found.negated() => 2,
        1 if found.negated() => 3,
        level => level.clamp(1, 5),
    }
}

/// Reads a rating: a score (stars, points) first; else a word of the rating scale (满意,
/// 差评), preferring one said with negation or degree (“给个好评，非常满意” is 5); else a
/// describing word (不错, terrible). The first such word when several fit equally.
pub fn read_rating(phrases: &Phrases, message: &str) -> Option<RatingReading> {
    let reader = Reader::new(&phrases.modifiers);
    let words: Vec<(String, (i64, bool))> = phrases
        .rating
        .words
        .iter()
        .flat_map(|entry| listed(&entry.words, (entry.level, entry.verdict)))
        .collect();
    let parts = clauses(message);
    let normalised: Vec<String> = parts.iter().map(|c| index::normalize(c)).collect();
    let ignored = |clause: &str| {
        let bare = clause.trim_end_matches(['啊', '呀', '哈', '~']);
        phrases.rating.ignore.iter().any(|w| w == bare)
    };
    let mut chosen: Option<i64> = normalised
        .iter()
        .find_map(|clause| score_of(clause).map(|(level, _)| level));
    if chosen.is_none() {
        let candidates: Vec<Found<(i64, bool)>> = normalised
            .iter()
            .filter(|clause| !ignored(clause))
            .flat_map(|clause| reader.find_all(clause, &words))
            .collect();
        // A verdict word outranks a describing one, a modified word a bare one; then the first.
        let rank = |f: &Found<(i64, bool)>| (f.value.1, f.modified());
        chosen = candidates
            .iter()
            .enumerate()
            .max_by_key(|(order, f)| (rank(f), std::cmp::Reverse(*order)))
            .map(|(_, found)| level_with(found));
    }
    let level = chosen?;
    // A clause is part of the reason unless it is only a verdict (“给个好评”, “非常满意”).
    let only_verdict = |clause: &str| {
        let span = score_of(clause)
            .map(|(_, span)| span)
            .or_else(|| reader.find_all(clause, &words).first().map(|f| f.start..f.end));
        span.is_some_and(|span| {
            let rest = format!("{}{}", &clause[..span.start], &clause[span.end..]);
            let rest = phrases
                .rating
                .frame
                .iter()
                .fold(rest, |rest, w| rest.replace(w.as_str(), ""));
            n_units(&rest) < 2
        })
    };
    let reason: Vec<&str> = parts
        .iter()
        .zip(&normalised)
        .filter(|(_, n)| !ignored(n) && !only_verdict(n))
        .map(|(c, _)| *c)
        .collect();
    Some(RatingReading {
        level,
        reason: reason.join("，"),
    })
}

/// Tags of a bad or middling rating named by its reason (a good one has none to fix).
pub fn tags_of(phrases: &Phrases, level: i64, reason: &str) -> Vec<String> {
    if level > 3 {
        return Vec::new();
    }
    let text = index::normalize(reason);
    phrases
        .rating
        .tags
        .iter()
        .filter(|t| text.contains(&t.tag) || t.cues.iter().any(|c| text.contains(c.as_str())))
        .map(|t| t.tag.clone())
        .collect()
}

/// What an answer says about urgency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    Urgent,
    NotUrgent,
    /// Said something about it, but not clearly (有点急, 不知道): ask again.
    Unclear,
    /// Said nothing about it.
    Silent,
}

impl Urgency {
    fn of(urgent: bool) -> Urgency {
        if urgent { Urgency::Urgent } else { Urgency::NotUrgent }
    }
}

/// Reads urgency from words about it (紧急, 不急, 没那么急, 还好); with `yes_no`, also
/// from a short yes or no (是, 不是, 对, no) to “是否紧急”.
pub fn read_urgency(phrases: &Phrases, message: &str, yes_no: bool) -> Urgency {
    let reader = Reader::new(&phrases.modifiers);
    let text = index::normalize(message);
    if phrases.urgency.unsure.iter().any(|w| text.contains(w.as_str())) {
        return Urgency::Unclear;
    }
    let mut topic = listed(&phrases.urgency.urgent, true);
    topic.extend(listed(&phrases.urgency.calm, false));
    for clause in clauses(&text) {
        if let Some(found) = reader.find_all(clause, &topic).into_iter().next() {
            // “有点急”: somewhat is not an emergency, nor clearly none.
            if found.value && found.n_negations == 0 && found.outer == Some(Degree::Hedge) {
                return Urgency::Unclear;
            }
            return Urgency::of(found.value != found.negated());
        }
    }
    if yes_no && let Some(answer) = read_yes_no(phrases, &text, true) {
        return Urgency::of(answer);
    }
    Urgency::Silent
}

/// A yes or a no, with negation (不是 is no). With `short`, only from a clause of a few
/// words: “是下水道堵了” tells what happened and says no yes.
pub fn read_yes_no(phrases: &Phrases, message: &str, short: bool) -> Option<bool> {
    let reader = Reader::new(&phrases.modifiers);
    let text = index::normalize(message);
    if phrases.urgency.unsure.iter().any(|w| text.contains(w.as_str())) {
        return None;
    }
    let mut words = listed(&phrases.urgency.yes, true);
    words.extend(listed(&phrases.urgency.no, false));
    clauses(&text)
        .into_iter()
        .filter(|clause| !short || n_units(clause) <= 4)
        .find_map(|clause| reader.find_all(clause, &words).into_iter().next())
        .map(|found| found.value != found.negated())
}

/// “投诉已经解决了，谢谢”: the citizen tells that their own request is done. Not when negated
/// (还没解决) or asked (解决了吗); the request must be named unless `has_ticket`.
pub fn confirms_resolution(phrases: &Phrases, message: &str, has_ticket: bool) -> bool {
    let reader = Reader::new(&phrases.modifiers);
    let text = index::normalize(message);
    let words = listed(&phrases.resolved.cues, ());
    let named = has_ticket || phrases.resolved.subjects.iter().any(|s| text.contains(s.as_str()));
    let asked = |after: &str| phrases.resolved.questions.iter().any(|q| after.contains(q.as_str()));
    let asking = phrases.resolved.asking.iter().any(|q| text.contains(q.as_str()));
    named
        && !asking
        && clauses(&text).into_iter().any(|clause| {
            reader
                .find_all(clause, &words)
                .into_iter()
                .any(|found| !found.negated() && !asked(&clause[found.end..]))
        })
}

fn looks_like_place(text: &str) -> bool {
    [
        "区", "县", "路", "街", "道", "巷", "号", "小区", "村", "广场", "公园", "学校", "医院", "门口", "附近", "楼",
        "站",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// What a message says for the intake.
pub struct IntakeOutcome {
    pub text: String,
    pub quick_replies: Vec<String>,
    pub draft: Option<TicketDraft>,
    pub request: Option<TicketRequest>,
}

/// Starts an intake from the first message (which often already says what happened).
pub fn start(message: &str, logged_in: bool) -> IntakeOutcome {
    let text = message.trim();
    let meaningful = text.chars().filter(|c| c.is_alphanumeric()).count();
    let bare = [
        "我要投诉",
        "投诉",
        "我要举报",
        "举报",
        "提交12345工单",
        "我要反映",
        "我要反映问题",
        "提交工单",
    ]
    .iter()
    .any(|w| text.trim_end_matches(['。', '！', '!']) == *w);
    let draft = TicketDraft {
        kind: kind_of(text).to_string(),
        what: (!bare && meaningful >= 6).then(|| text.to_string()),
        location: None,
        when: None,
        contact: None,
        anonymous: None,
        urgent: None,
        awaiting: None,
        confirming: false,
    };
    let mut outcome = next(draft, logged_in);
    outcome.text = format!(
        "我来帮您登记{}诉求，转交承办部门办理。{}",
        kind_label(&outcome),
        outcome.text
    );
    outcome
}

fn kind_label(outcome: &IntakeOutcome) -> &str {
    outcome.draft.as_ref().map_or("", |d| d.kind.as_str())
}

/// One turn of the intake.
pub fn turn(phrases: &Phrases, mut draft: TicketDraft, message: &str, logged_in: bool) -> IntakeOutcome {
    let text = message.trim();
    if ["取消", "算了", "不投诉了", "不用了"].iter().any(|w| text.contains(w)) {
        return IntakeOutcome {
            text: "好的，已取消登记，没有提交任何内容。".into(),
            quick_replies: vec![],
            draft: None,
            request: None,
        };
    }
    if draft.confirming {
        // “改成不紧急”, “其实不急”: a correction of the urgency, not more of the problem.
        match read_urgency(phrases, text, false) {
            reading @ (Urgency::Urgent | Urgency::NotUrgent) => {
                draft.urgent = Some(reading == Urgency::Urgent);
                // A longer message also tells more of the problem (“楼道里有煤气味，很危险”).
                if n_units(text) > 8 && !["改成", "改为", "其实", "更正"].iter().any(|w| text.contains(w)) {
                    draft.what = Some(format!("{}；补充：{text}", draft.what.clone().unwrap_or_default()));
                }
                let mut outcome = next(draft, logged_in);
                outcome.text = format!("好的，已更正紧急程度。{}", outcome.text);
                return outcome;
            }
            Urgency::Unclear => {
                draft.urgent = None;
                draft.confirming = false;
                return ask_urgency_again(draft, logged_in);
            }
            Urgency::Silent => {}
        }
        if ["确认", "提交", "是", "对", "好的", "没问题"]
            .iter()
            .any(|w| text.starts_with(w))
        {
            let request = TicketRequest {
                kind: draft.kind.clone(),
                what: draft.what.clone().unwrap_or_default(),
                location: draft.location.clone().unwrap_or_default(),
                when: draft.when.clone(),
                contact: draft.contact.clone(),
                anonymous: draft.anonymous.unwrap_or(false),
                urgent: draft.urgent.unwrap_or(false),
            };
            return IntakeOutcome {
                text: String::new(),
                quick_replies: vec![],
                draft: None,
                request: Some(request),
            };
        }
        // Anything else is taken as a correction of what happened.
        draft.what = Some(format!("{}；补充：{text}", draft.what.clone().unwrap_or_default()));
        draft.confirming = false;
        return next(draft, logged_in);
    }
    match draft.awaiting.as_deref() {
        Some("what") => draft.what = Some(text.to_string()),
        Some("location") => {
            if !looks_like_place(text) && text.chars().count() < 4 {
                let mut outcome = next(draft, logged_in);
                outcome.text = format!(
                    "请说得具体一些，例如“{}”。{}",
                    phrases.assistant().address_example,
                    outcome.text
                );
                return outcome;
            }
            draft.location = Some(text.to_string());
        }
        Some("when") => draft.when = Some(text.to_string()),
        Some("contact") => {
            if text.contains("匿名") || text.contains("不留") {
                draft.anonymous = Some(true);
            } else {
                match knowledge::validators::mobile(text.trim_start_matches("电话").trim_start_matches('是')) {
                    Ok(mobile) => {
                        draft.contact = Some(mobile);
                        draft.anonymous = Some(false);
                    }
                    Err(invalid) => {
                        let mut outcome = next(draft, logged_in);
                        outcome.text = format!("{}。{}", invalid.message, outcome.text);
                        return outcome;
                    }
                }
            }
        }
        Some("urgent") => match read_urgency(phrases, text, true) {
            Urgency::Urgent => draft.urgent = Some(true),
            Urgency::NotUrgent => draft.urgent = Some(false),
            // Guessing would file an emergency nobody has, or bury one: ask again.
            Urgency::Unclear | Urgency::Silent => return ask_urgency_again(draft, logged_in),
        },
        _ => {}
    }
    next(draft, logged_in)
}

fn ask_urgency_again(draft: TicketDraft, logged_in: bool) -> IntakeOutcome {
    let mut outcome = next(draft, logged_in);
    outcome.text = format!("抱歉，我没有听明白。{}请回复“是”或“否”。", outcome.text);
    outcome
}

/// Asks for the next missing piece, or shows the summary.
fn next(mut draft: TicketDraft, logged_in: bool) -> IntakeOutcome {
    let ask = |draft: TicketDraft, key: &str, text: &str, quick: Vec<&str>| {
        let mut draft = draft;
        draft.awaiting = Some(key.to_string());
        IntakeOutcome {
            text: text.to_string(),
            quick_replies: quick.into_iter().map(str::to_string).collect(),
            draft: Some(draft),
            request: None,
        }
    };
    if draft.what.is_none() {
        return ask(draft, "what", "请简要说明发生了什么问题。", vec!["取消"]);
    }
    if draft.location.is_none() {
        return ask(
            draft,
            "location",
            "具体在哪里？请说明区县、街道和小区或门牌。",
            vec!["取消"],
        );
    }
    if draft.when.is_none() {
        return ask(
            draft,
            "when",
            "大概什么时候发生的？例如“今晚一直在响”“上周五”。",
            vec!["刚刚", "持续发生", "取消"],
        );
    }
    if draft.anonymous.is_none() {
        let text = if logged_in {
            "请留一个联系电话，方便承办部门回访；也可以回复“匿名”（匿名诉求照常办理，但无法电话回访，也不能评价办理结果）。"
        } else {
            "请留一个联系电话，方便承办部门回访并告诉您结果；也可以回复“匿名”（匿名诉求照常办理，但无法回访和查询进度）。"
        };
        return ask(draft, "contact", text, vec!["匿名"]);
    }
    if draft.urgent.is_none() {
        return ask(
            draft,
            "urgent",
            "是否紧急（正在发生、涉及人身或财产安全）？",
            vec!["是", "否"],
        );
    }
    draft.awaiting = None;
    draft.confirming = true;
    let contact = match (&draft.contact, draft.anonymous) {
        (_, Some(true)) => "匿名".to_string(),
        (Some(mobile), _) => mobile.clone(),
        _ => "—".to_string(),
    };
    let text = format!(
        "请核对诉求信息：\n· 类型：{}\n· 问题：{}\n· 地点：{}\n· 时间：{}\n· 联系方式：{}\n· 紧急：{}\n确认无误请回复“确认”，要补充请直接说明（紧急程度可以说“改成不紧急”）。",
        draft.kind,
        draft.what.as_deref().unwrap_or_default(),
        draft.location.as_deref().unwrap_or_default(),
        draft.when.as_deref().unwrap_or_default(),
        contact,
        if draft.urgent == Some(true) { "是" } else { "否" },
    );
    IntakeOutcome {
        text,
        quick_replies: vec!["确认".into(), "取消".into()],
        draft: Some(draft),
        request: None,
    }
}

/// Picks a ticket's category from its text: multinomial naive Bayes over the index's terms,
/// trained on the examples in `knowledge/data/ticket_examples.toml`. The encoder-based head of
/// the model issue replaces it where the model is installed.
#[derive(Debug, Clone, Default)]
pub struct Router {
    classes: Vec<String>,
    log_prior: Vec<f32>,
    log_likelihood: HashMap<String, Vec<f32>>,
    log_unseen: Vec<f32>,
}

impl Router {
    pub fn train(examples: &[(String, String)], terms: impl Fn(&str) -> Vec<String>) -> Router {
        let mut classes: Vec<String> = examples.iter().map(|(label, _)| label.clone()).collect();
        classes.sort();
        classes.dedup();
        let n_classes = classes.len();
        if n_classes == 0 {
            return Router::default();
        }
        let mut counts: HashMap<String, Vec<f32>> = HashMap::new();
        let mut totals = vec![0f32; n_classes];
        let mut docs = vec![0f32; n_classes];
        for (label, text) in examples {
            let class = classes.iter().position(|c| c == label).unwrap_or(0);
            docs[class] += 1.0;
            for term in terms(text) {
                counts.entry(term).or_insert_with(|| vec![0.0; n_classes])[class] += 1.0;
                totals[class] += 1.0;
            }
        }
        let vocabulary = counts.len() as f32;
        let alpha = 0.5;
        let log_likelihood = counts
            .into_iter()
            .map(|(term, c)| {
                let row = (0..n_classes)
                    .map(|k| ((c[k] + alpha) / (totals[k] + alpha * vocabulary)).ln())
                    .collect();
                (term, row)
            })
            .collect();
        let log_unseen = (0..n_classes)
            .map(|k| (alpha / (totals[k] + alpha * vocabulary)).ln())
            .collect();
        let n_docs: f32 = docs.iter().sum();
        let log_prior = docs.iter().map(|d| (d / n_docs).ln()).collect();
        Router {
            classes,
            log_prior,
            log_likelihood,
            log_unseen,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// The best category and its probability.
    pub fn classify(&self, terms: &[String]) -> Option<(String, f32)> {
        self.distribution(terms).into_iter().next()
    }

    /// Posterior probability of every category, best first.
    pub fn distribution(&self, terms: &[String]) -> Vec<(String, f32)> {
        if self.classes.is_empty() {
            return Vec::new();
        }
        let mut scores = self.log_prior.clone();
        for term in terms {
            // Terms never seen in training carry no evidence either way.
            if let Some(row) = self.log_likelihood.get(term) {
                for (k, score) in scores.iter_mut().enumerate() {
                    *score += row[k] - self.log_unseen[k];
                }
            }
        }
        let max = scores.iter().copied().fold(f32::MIN, f32::max);
        let sum: f32 = scores.iter().map(|s| (s - max).exp()).sum();
        let mut dist: Vec<(String, f32)> = self
            .classes
            .iter()
            .cloned()
            .zip(scores.iter().map(|s| (s - max).exp() / sum))
            .collect();
        dist.sort_by(|a, b| b.1.total_cmp(&a.1));
        dist
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_read_from_words_stars_and_numbers() {
        assert_eq!(level_of("非常满意"), Some(5));
        assert_eq!(level_of("非常不满意"), Some(1));
        assert_eq!(level_of("不满意"), Some(2));
        assert_eq!(level_of("我要差评"), Some(2));
        assert_eq!(level_of("基本满意"), Some(3));
        assert_eq!(level_of("满意"), Some(4));
        assert_eq!(level_of("3"), Some(3));
        assert_eq!(level_of("随便"), None);
    }

    /// Reads `text` as a rating and compares with the expected level (`None`: no rating).
    #[track_caller]
    fn check(text: &str, expected: Option<i64>) {
        assert_eq!(level_of(text), expected, "{text:?}");
    }

    #[test]
    fn rating_phrase_table() {
        let table: &[(&str, Option<i64>)] = &[
            // Negation and degree around 满意.
            ("不满意", Some(2)),
            ("不太满意", Some(2)),
            ("不是很满意", Some(2)),
            ("不怎么满意", Some(2)),
            ("不大满意", Some(2)),
            ("很不满意", Some(1)),
            ("非常不满意", Some(1)),
            ("一点也不满意", Some(1)),
            ("一点都不满意，太折腾了", Some(1)),
            ("完全不满意", Some(1)),
            ("满意", Some(4)),
            ("挺满意的", Some(4)),
            ("比较满意", Some(4)),
            ("很满意", Some(5)),
            ("非常满意", Some(5)),
            ("特别满意！", Some(5)),
            ("满意极了", Some(5)),
            ("基本满意", Some(3)),
            ("还算满意吧", Some(3)),
            ("不是不满意", Some(3)),
            // The middle.
            ("还行", Some(3)),
            ("凑合", Some(3)),
            ("一般般", Some(3)),
            ("马马虎虎吧", Some(3)),
            ("还可以", Some(3)),
            ("差不多吧", Some(3)),
            // Describing words.
            ("挺好", Some(4)),
            ("挺好的", Some(4)),
            ("还不错", Some(4)),
            ("很好", Some(5)),
            ("好满意", Some(5)),
            ("太棒了", Some(5)),
            ("不太好", Some(2)),
            ("太差了", Some(1)),
            ("不差", Some(4)),
            ("不行", Some(2)),
            // The 好差评 words.
            ("差评", Some(2)),
            ("好评", Some(4)),
            ("中评", Some(3)),
            ("给个好评，非常满意", Some(5)),
            ("差评，窗口工作人员态度很差", Some(2)),
            ("好的，非常满意", Some(5)),
            // Stars and points.
            ("五星", Some(5)),
            ("5星", Some(5)),
            ("★★★★★", Some(5)),
            ("★★", Some(2)),
            ("给4颗星", Some(4)),
            ("打三分", Some(3)),
            ("3分", Some(3)),
            ("三星吧", Some(3)),
            ("一星，跑了三趟", Some(1)),
            ("两星", Some(2)),
            ("五星好评", Some(5)),
            ("3", Some(3)),
            ("四", Some(4)),
            // English.
            ("very satisfied", Some(5)),
            ("Satisfied", Some(4)),
            ("it was ok", Some(3)),
            ("not satisfied", Some(2)),
            ("not very satisfied", Some(2)),
            ("not satisfied at all", Some(1)),
            ("very dissatisfied", Some(1)),
            ("terrible", Some(1)),
            ("excellent service", Some(5)),
            ("4 stars", Some(4)),
            ("2/5", Some(2)),
            ("5 out of 5", Some(5)),
            ("not bad", Some(4)),
            // No rating.
            ("随便", None),
            ("好的", None),
            ("等了一星期", None),
            ("10分钟", None),
        ];
        assert!(table.len() >= 40);
        for (text, expected) in table {
            check(text, *expected);
        }
    }

    proptest::proptest! {
        /// Any text, in any script, reads as a level from 1 to 5 or as none, never a panic
        /// (the reader slices by byte offsets).
        #[test]
        fn any_text_reads_as_a_level_or_none(text in "[不很非常满意差评好一二三四五星分★ ,，a-z0-9/é中文🙂]{0,24}") {
            if let Some(level) = level_of(&text) {
                proptest::prop_assert!((1..=5).contains(&level));
            }
            let _ = read_urgency(Phrases::builtin(), &text, true);
            let _ = confirms_resolution(Phrases::builtin(), &text, true);
        }
    }

    #[test]
    fn bu_shi_hen_man_yi_is_not_five_stars() {
        check("不是很满意", Some(2));
    }

    #[test]
    fn bu_tai_man_yi_is_not_four_stars() {
        check("不太满意", Some(2));
    }

    #[test]
    fn a_rating_keeps_its_reason_and_names_its_tags() {
        let phrases = Phrases::builtin();
        let reading = read_rating(phrases, "给个差评，让我跑了三趟").unwrap();
        assert_eq!((reading.level, reading.reason.as_str()), (2, "让我跑了三趟"));
        assert_eq!(tags_of(phrases, reading.level, &reading.reason), ["多次跑动"]);
        let reading = read_rating(phrases, "差评，窗口工作人员态度很差").unwrap();
        assert_eq!(reading.reason, "窗口工作人员态度很差");
        assert_eq!(tags_of(phrases, reading.level, &reading.reason), ["态度差"]);
        // A verdict alone has no reason; a good rating gets no complaint tags.
        assert_eq!(read_rating(phrases, "我要差评").unwrap().reason, "");
        assert_eq!(read_rating(phrases, "给个好评，非常满意").unwrap().reason, "");
        assert!(tags_of(phrases, 5, "工作人员态度很好，没让我多跑").is_empty());
    }

    #[test]
    fn every_tag_of_the_phrases_is_a_tag_of_the_backend() {
        for entry in &Phrases::builtin().rating.tags {
            assert!(TAGS.contains(&entry.tag.as_str()), "{}", entry.tag);
        }
    }

    #[track_caller]
    fn check_urgency(text: &str, expected: Urgency) {
        assert_eq!(read_urgency(Phrases::builtin(), text, true), expected, "{text:?}");
    }

    #[test]
    fn urgency_phrase_table() {
        use Urgency::*;
        let table: &[(&str, Urgency)] = &[
            ("是", Urgent),
            ("是的", Urgent),
            ("对", Urgent),
            ("对的，很急", Urgent),
            ("嗯", Urgent),
            ("yes", Urgent),
            ("紧急", Urgent),
            ("很紧急", Urgent),
            ("非常急", Urgent),
            ("急", Urgent),
            ("挺急的", Urgent),
            ("急死了", Urgent),
            ("特别着急", Urgent),
            ("有危险", Urgent),
            ("正在发生", Urgent),
            ("水管爆了，马上要淹到楼下了", Urgent),
            ("urgent", Urgent),
            ("it's an emergency", Urgent),
            ("否", NotUrgent),
            ("不", NotUrgent),
            ("不是", NotUrgent),
            ("不是的", NotUrgent),
            ("no", NotUrgent),
            ("没有", NotUrgent),
            ("不紧急", NotUrgent),
            ("不急", NotUrgent),
            ("还好，不急", NotUrgent),
            ("没那么急", NotUrgent),
            ("不是很急", NotUrgent),
            ("不太急", NotUrgent),
            ("不着急", NotUrgent),
            ("别着急，慢慢处理", NotUrgent),
            ("其实不急", NotUrgent),
            ("一点也不急", NotUrgent),
            ("没有危险", NotUrgent),
            ("不要紧", NotUrgent),
            ("慢慢来", NotUrgent),
            ("可以等", NotUrgent),
            ("现在没事了", NotUrgent),
            ("not urgent", NotUrgent),
            ("no rush", NotUrgent),
            ("nope", NotUrgent),
            // Unclear: asked again.
            ("有点急", Unclear),
            ("不知道", Unclear),
            ("不确定", Unclear),
            ("说不好", Unclear),
            ("maybe", Unclear),
            ("是下水道堵了，味道很大", Silent),
            ("周一再说", Silent),
            ("嗯嗯，是的", Urgent),
        ];
        assert!(table.len() >= 40);
        for (text, expected) in table {
            check_urgency(text, *expected);
        }
    }

    #[test]
    fn bu_jin_ji_is_not_urgent() {
        for answer in ["不紧急", "还好，不急", "没那么急"] {
            let request = file_with_urgency(answer);
            assert!(!request.urgent, "{answer}");
        }
    }

    fn intake_to_urgency() -> IntakeOutcome {
        let phrases = Phrases::builtin();
        let mut outcome = start("小区门口的路灯坏了一个月", true);
        for answer in ["滨江区江滨路12号", "上个月开始", "13912345678"] {
            outcome = turn(phrases, outcome.draft.unwrap(), answer, true);
        }
        assert_eq!(outcome.draft.as_ref().unwrap().awaiting.as_deref(), Some("urgent"));
        outcome
    }

    fn file_with_urgency(answer: &str) -> TicketRequest {
        let phrases = Phrases::builtin();
        let outcome = turn(phrases, intake_to_urgency().draft.unwrap(), answer, true);
        assert!(outcome.draft.as_ref().unwrap().confirming, "{answer}: {}", outcome.text);
        turn(phrases, outcome.draft.unwrap(), "确认", true).request.unwrap()
    }

    #[test]
    fn an_unclear_urgency_is_asked_again_not_guessed() {
        let phrases = Phrases::builtin();
        let outcome = turn(phrases, intake_to_urgency().draft.unwrap(), "有点吧，说不好", true);
        let draft = outcome.draft.unwrap();
        assert_eq!((draft.awaiting.as_deref(), draft.urgent), (Some("urgent"), None));
        assert!(outcome.text.contains("是否紧急"), "{}", outcome.text);
        assert_eq!(outcome.quick_replies, ["是", "否"]);
    }

    #[test]
    fn urgency_is_corrected_at_confirmation_not_appended_to_the_problem() {
        let phrases = Phrases::builtin();
        let outcome = turn(phrases, intake_to_urgency().draft.unwrap(), "是", true);
        let before = outcome.draft.clone().unwrap().what;
        for correction in ["改成不紧急", "其实不急"] {
            let corrected = turn(phrases, outcome.draft.clone().unwrap(), correction, true);
            let draft = corrected.draft.clone().unwrap();
            assert!(draft.confirming, "{}", corrected.text);
            assert_eq!((draft.urgent, &draft.what), (Some(false), &before), "{correction}");
            assert!(corrected.text.contains("紧急：否"), "{}", corrected.text);
            let request = turn(phrases, corrected.draft.unwrap(), "确认", true).request.unwrap();
            assert!(!request.urgent);
        }
    }

    #[test]
    fn intake_collects_everything_then_asks_to_confirm() {
        let phrases = Phrases::builtin();
        let mut outcome = start("楼下烧烤店每天半夜油烟很大", true);
        assert_eq!(outcome.draft.as_ref().unwrap().awaiting.as_deref(), Some("location"));
        for answer in ["滨江区江滨路12号", "每天晚上", "13912345678", "否"] {
            outcome = turn(phrases, outcome.draft.unwrap(), answer, true);
        }
        assert!(outcome.draft.as_ref().unwrap().confirming, "{}", outcome.text);
        let done = turn(phrases, outcome.draft.unwrap(), "确认", true);
        let request = done.request.unwrap();
        assert_eq!(
            (request.location.as_str(), request.contact.as_deref(), request.urgent),
            ("滨江区江滨路12号", Some("13912345678"), false)
        );
    }

    #[test]
    fn router_learns_from_examples() {
        let examples = vec![
            ("环境保护".to_string(), "工厂 排放 废气 污染".to_string()),
            ("环境保护".to_string(), "河道 污染 发臭".to_string()),
            ("交通运输".to_string(), "公交 晚点 司机".to_string()),
            ("交通运输".to_string(), "出租车 绕路 司机".to_string()),
        ];
        let split = |t: &str| t.split(' ').map(str::to_string).collect::<Vec<_>>();
        let router = Router::train(&examples, split);
        assert_eq!(router.classify(&split("废气 污染")).unwrap().0, "环境保护");
        assert_eq!(router.classify(&split("公交 司机")).unwrap().0, "交通运输");
    }
}
