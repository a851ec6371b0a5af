//! The evaluation harness: runs a dataset of questions through the dialogue (end to end, as
//! a citizen's first message) and through the index alone, and prints recall@1, recall@3,
//! MRR, intent accuracy and out-of-scope precision and recall.
//!
//! Key design decision: a dataset line names every guide that counts as right (`expected`),
//! best first, so a question that fits a bundle and its member is not scored as a miss either
//! way; non-service lines expect no guide.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use bot::{DialogueState, Engine, Intent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Case {
    pub query: String,
    pub intent: Intent,
    #[serde(default)]
    pub expected: Vec<String>,
    #[serde(default)]
    pub style: Option<String>,
}

pub fn load_dataset(path: &Path) -> anyhow::Result<Vec<Case>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).with_context(|| format!("{}:{}: not a dataset line", path.display(), i + 1))
        })
        .collect()
}

/// Metrics of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub n_cases: usize,
    pub n_service: usize,
    /// End to end: the guides the reply is about.
    pub recall_at_1: f64,
    pub recall_at_3: f64,
    pub mrr: f64,
    /// The index alone (top 5 hits), whatever the dialogue decided.
    pub retrieval_recall_at_1: f64,
    pub retrieval_recall_at_3: f64,
    pub intent_accuracy: f64,
    pub oos_precision: f64,
    pub oos_recall: f64,
    /// Replies that declined (out of scope) yet offered a guide: must stay 0.
    pub declined_with_guides: usize,
    /// (expected intent, predicted intent) → count.
    pub confusion: BTreeMap<String, BTreeMap<String, usize>>,
    /// recall@1 by query style.
    pub recall_at_1_by_style: BTreeMap<String, (usize, usize)>,
    /// Cases answered right (intent, and for a service the first guide) by style, every
    /// intent counted: a look-alike is right when it is declined.
    pub accuracy_by_style: BTreeMap<String, (usize, usize)>,
    /// Median length in characters of the replies to service questions.
    pub median_service_reply_chars: usize,
    pub misses: Vec<Miss>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Miss {
    pub query: String,
    pub expected_intent: Intent,
    pub intent: Intent,
    pub expected: Vec<String>,
    pub got: Vec<String>,
}

fn rank_of(expected: &[String], got: &[String]) -> Option<usize> {
    got.iter().position(|id| expected.contains(id))
}

/// The signals the dialogue decides on, for every case, tab-separated (for studying the
/// decision rules): expected intent, expected guides, head probabilities of service, out of
/// scope and complaint, lexical confidence of the best BM25 hit, and the top three guides of
/// the default retrieval with their fused score and dense cosine.
pub fn features(engine: &Engine, cases: &[Case]) -> anyhow::Result<String> {
    let mut out = String::from(
        "intent\texpected\tp_service\tp_oos\tp_complaint\tlexical\tcovered\tcoverage_features\ttop\tabsent\tquery\n",
    );
    for case in cases {
        let probabilities = engine.intent_probabilities(&case.query)?.unwrap_or_default();
        let p = |label: &str| probabilities.iter().find(|(l, _)| l == label).map_or(0.0, |(_, p)| *p);
        let ranked = engine.retrieve(&case.query, 3, engine.default_mode())?;
        let lexical = ranked
            .first()
            .and_then(|r| r.bm25.as_ref())
            .map_or(0.0, bot::confidence);
        let top: Vec<String> = ranked
            .iter()
            .map(|r| format!("{}:{:.3}:{:.3}", r.id, r.score, r.dense.unwrap_or(0.0)))
            .collect();
        let (covered, coverage_features) = match (&engine.semantic, ranked.first()) {
            (Some(semantic), Some(best)) => match &semantic.coverage {
                Some(coverage) => {
                    let vector = semantic.embed_query(&case.query)?;
                    let x = coverage
                        .features(&engine.index, &semantic.dense, &case.query, &vector, &best.id)
                        .unwrap_or_default();
                    (
                        coverage.probability(&x),
                        x.iter().map(|v| format!("{v:.2}")).collect::<Vec<_>>().join(","),
                    )
                }
                None => (1.0, String::new()),
            },
            _ => (1.0, String::new()),
        };
        // Every piece of the query with its part of speech, how many guides mention it, and
        // where: S in the best guide's scope (title, aliases, summary, FAQ questions), G
        // elsewhere in that guide, C in another guide only, * in none.
        let absent: Vec<String> = ranked.first().map_or(Vec::new(), |top| {
            engine
                .index
                .tagged(&case.query)
                .into_iter()
                .filter(|(w, _)| w.chars().count() >= 2 && w.chars().all(char::is_alphanumeric))
                .map(|(w, tag)| {
                    let mark = if engine.index.in_scope(&top.id, &w) {
                        "S"
                    } else if engine.index.guide_mentions(&top.id, &w) {
                        "G"
                    } else if engine.index.mentions(&w) {
                        "C"
                    } else {
                        "*"
                    };
                    format!("{w}/{tag}/{}/{mark}", engine.index.guides_mentioning(&w))
                })
                .collect()
        });
        out.push_str(&format!(
            "{}\t{}\t{:.3}\t{:.3}\t{:.3}\t{:.2}\t{:.3}\t{}\t{}\t{}\t{}\n",
            case.intent.as_str(),
            case.expected.join(","),
            p("service"),
            p("out_of_scope"),
            p("complaint"),
            lexical,
            covered,
            coverage_features,
            top.join(" "),
            absent.join(","),
            match (
                engine.index.correct(&case.query),
                bot::unknown_service(&engine.corpus.phrases, &engine.index, &case.query)
            ) {
                (Some(c), u) => format!("{c} [{}]", u.unwrap_or_default()),
                (None, u) => format!("{} [{}]", case.query, u.unwrap_or_default()),
            }
        ));
    }
    Ok(out)
}

pub fn run(engine: &Engine, cases: &[Case]) -> anyhow::Result<Report> {
    run_showing(engine, cases, None)
}

/// [`run`], counting the questions done in `progress`.
pub fn run_showing(
    engine: &Engine,
    cases: &[Case],
    progress: Option<&bot::semantic::Progress>,
) -> anyhow::Result<Report> {
    if let Some(progress) = progress {
        progress.set_phase("evaluating");
        progress.begin(cases.len());
    }
    let mut report = Report {
        n_cases: cases.len(),
        ..Report::default()
    };
    let (mut r1, mut r3, mut mrr, mut rr1, mut rr3, mut correct_intent) = (0.0, 0.0, 0.0, 0.0, 0.0, 0usize);
    let (mut oos_tp, mut oos_fp, mut oos_fn) = (0usize, 0usize, 0usize);
    let mut reply_lengths = Vec::new();
    for case in cases {
        if let Some(progress) = progress {
            progress.advance(1);
        }
        let (_, reply) = bot::respond(
            engine,
            &bot::Context::anonymous(),
            &DialogueState::default(),
            &case.query,
        )?;
        let got: Vec<String> = reply.guides.iter().map(|g| g.id.clone()).collect();
        *report
            .confusion
            .entry(case.intent.as_str().to_string())
            .or_default()
            .entry(reply.intent.as_str().to_string())
            .or_default() += 1;
        if reply.intent == case.intent {
            correct_intent += 1;
        }
        if reply.intent == Intent::OutOfScope && !reply.guides.is_empty() {
            report.declined_with_guides += 1;
        }
        match (case.intent == Intent::OutOfScope, reply.intent == Intent::OutOfScope) {
            (true, true) => oos_tp += 1,
            (false, true) => oos_fp += 1,
            (true, false) => oos_fn += 1,
            (false, false) => {}
        }
        let mut missed = reply.intent != case.intent;
        if case.intent == Intent::Service && !case.expected.is_empty() {
            report.n_service += 1;
            let rank = rank_of(&case.expected, &got);
            r1 += f64::from(u8::from(rank == Some(0)));
            r3 += f64::from(u8::from(rank.is_some_and(|r| r < 3)));
            mrr += rank.map_or(0.0, |r| 1.0 / (r as f64 + 1.0));
            let hits: Vec<String> = engine.index.search(&case.query, 5)?.into_iter().map(|h| h.id).collect();
            let retrieval_rank = rank_of(&case.expected, &hits);
            rr1 += f64::from(u8::from(retrieval_rank == Some(0)));
            rr3 += f64::from(u8::from(retrieval_rank.is_some_and(|r| r < 3)));
            let style = case.style.clone().unwrap_or_else(|| "other".into());
            let entry = report.recall_at_1_by_style.entry(style).or_default();
            entry.0 += usize::from(rank == Some(0));
            entry.1 += 1;
            missed |= rank != Some(0);
        }
        if case.intent == Intent::Service && reply.intent == Intent::Service {
            reply_lengths.push(reply.text.chars().count());
        }
        let style = case.style.clone().unwrap_or_else(|| case.intent.as_str().to_string());
        let entry = report.accuracy_by_style.entry(style).or_default();
        entry.0 += usize::from(!missed);
        entry.1 += 1;
        if missed {
            report.misses.push(Miss {
                query: case.query.clone(),
                expected_intent: case.intent,
                intent: reply.intent,
                expected: case.expected.clone(),
                got: got.into_iter().take(3).collect(),
            });
        }
    }
    reply_lengths.sort_unstable();
    report.median_service_reply_chars = reply_lengths.get(reply_lengths.len() / 2).copied().unwrap_or(0);
    let n = report.n_service.max(1) as f64;
    report.recall_at_1 = r1 / n;
    report.recall_at_3 = r3 / n;
    report.mrr = mrr / n;
    report.retrieval_recall_at_1 = rr1 / n;
    report.retrieval_recall_at_3 = rr3 / n;
    report.intent_accuracy = correct_intent as f64 / cases.len().max(1) as f64;
    report.oos_precision = oos_tp as f64 / (oos_tp + oos_fp).max(1) as f64;
    report.oos_recall = oos_tp as f64 / (oos_tp + oos_fn).max(1) as f64;
    Ok(report)
}

impl Report {
    /// The table printed by `banshi eval`.
    pub fn table(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "cases: {} (service with expected guides: {})\n",
            self.n_cases, self.n_service
        ));
        out.push_str("| metric | value |\n|---|---|\n");
        for (name, value) in [
            ("recall@1", self.recall_at_1),
            ("recall@3", self.recall_at_3),
            ("MRR", self.mrr),
            ("retrieval recall@1 (index only)", self.retrieval_recall_at_1),
            ("retrieval recall@3 (index only)", self.retrieval_recall_at_3),
            ("intent accuracy", self.intent_accuracy),
            ("out-of-scope precision", self.oos_precision),
            ("out-of-scope recall", self.oos_recall),
        ] {
            out.push_str(&format!("| {name} | {value:.3} |\n"));
        }
        out.push_str(&format!(
            "| declined but offered a guide | {} |\n",
            self.declined_with_guides
        ));
        out.push_str(&format!(
            "| median reply length, service (chars) | {} |\n",
            self.median_service_reply_chars
        ));
        out.push_str("\nrecall@1 by style:\n");
        for (style, (hit, total)) in &self.recall_at_1_by_style {
            out.push_str(&format!("  {style:<12} {hit}/{total}\n"));
        }
        out.push_str("\nright by style (intent, and the first guide for a service):\n");
        for (style, (hit, total)) in &self.accuracy_by_style {
            out.push_str(&format!(
                "  {style:<12} {hit}/{total} = {:.3}\n",
                *hit as f64 / (*total).max(1) as f64
            ));
        }
        out.push_str("\nintent confusion (expected → predicted):\n");
        for (expected, row) in &self.confusion {
            let cells: Vec<String> = row.iter().map(|(p, n)| format!("{p}={n}")).collect();
            out.push_str(&format!("  {expected:<13} {}\n", cells.join(" ")));
        }
        out
    }
}

/// Labelled hotline messages (JSONL: `title`, `detail`, and `label_l1` or `category`), as
/// (message, label); the message is the title and the detail joined by a space.
pub fn load_ticket_dataset(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("无法读取 {}", path.display()))?;
    let mut cases = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let value: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("{}:{}: not JSON", path.display(), i + 1))?;
        let message = format!(
            "{} {}",
            value["title"].as_str().unwrap_or_default(),
            value["detail"].as_str().unwrap_or_default()
        );
        let label = value["label_l1"]
            .as_str()
            .or_else(|| value["category"].as_str())
            .unwrap_or_default()
            .to_string();
        cases.push((message, label));
    }
    Ok(cases)
}

/// One label's scores.
struct LabelScores<'a> {
    label: &'a String,
    n_expected: f64,
    precision: f64,
    recall: f64,
    f1: f64,
}

/// Per-label scores over the expected labels (sorted) and the accuracy.
fn scores<'a>(expected: &'a [String], predicted: &[String]) -> (Vec<LabelScores<'a>>, f64) {
    let mut labels: Vec<&String> = expected.iter().collect();
    labels.sort();
    labels.dedup();
    let correct = expected.iter().zip(predicted).filter(|(e, p)| e == p).count();
    let per_label = labels
        .into_iter()
        .map(|label| {
            let tp = expected
                .iter()
                .zip(predicted)
                .filter(|(e, p)| *e == label && *p == label)
                .count() as f64;
            let n_expected = expected.iter().filter(|e| *e == label).count() as f64;
            let n_predicted = predicted.iter().filter(|p| *p == label).count() as f64;
            let precision = if n_predicted > 0.0 { tp / n_predicted } else { 0.0 };
            let recall = if n_expected > 0.0 { tp / n_expected } else { 0.0 };
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            LabelScores {
                label,
                n_expected,
                precision,
                recall,
                f1,
            }
        })
        .collect();
    (per_label, correct as f64 / expected.len().max(1) as f64)
}

fn macro_f1(per_label: &[LabelScores<'_>]) -> f64 {
    per_label.iter().map(|s| s.f1).sum::<f64>() / per_label.len().max(1) as f64
}

/// Accuracy and macro-F1 over the expected labels.
pub fn accuracy_and_macro_f1(expected: &[String], predicted: &[String]) -> (f64, f64) {
    let (per_label, accuracy) = scores(expected, predicted);
    (accuracy, macro_f1(&per_label))
}

/// Accuracy, macro-F1 over the expected labels, per-label precision/recall/F1 and the
/// confusion matrix (rows: expected, columns: predicted).
pub fn classification_report(expected: &[String], predicted: &[String]) -> String {
    let (per_label, accuracy) = scores(expected, predicted);
    let labels: Vec<&String> = per_label.iter().map(|s| s.label).collect();
    let mut columns: Vec<&String> = expected.iter().chain(predicted.iter()).collect();
    columns.sort();
    columns.dedup();
    let mut out = format!("cases: {}\naccuracy: {accuracy:.3}\n", expected.len());
    let rows: String = per_label
        .iter()
        .map(|s| {
            format!(
                "| {} | {} | {:.3} | {:.3} | {:.3} |\n",
                s.label, s.n_expected, s.precision, s.recall, s.f1
            )
        })
        .collect();
    out.push_str(&format!(
        "macro-F1: {:.3}\n\n| label | n | precision | recall | F1 |\n|---|---|---|---|---|\n{rows}",
        macro_f1(&per_label)
    ));
    out.push_str("\nconfusion (rows expected, columns predicted):\n");
    out.push_str(&format!(
        "| |{}|\n",
        columns.iter().map(|c| format!(" {c} ")).collect::<Vec<_>>().join("|")
    ));
    for label in &labels {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| {
                expected
                    .iter()
                    .zip(predicted)
                    .filter(|(e, p)| e == label && p == c)
                    .count()
                    .to_string()
            })
            .collect();
        out.push_str(&format!("| {label} | {} |\n", cells.join(" | ")));
    }
    out
}

/// One turn of a scripted conversation.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ScriptedTurn {
    pub user: String,
    pub intent: Intent,
    #[serde(default)]
    pub expected: Vec<String>,
    /// The aspect a follow-up asks about (fee, where, in_person …), if any.
    #[serde(default)]
    pub facet: Option<String>,
    /// The turn picks one of the options listed before (“第二个”).
    #[serde(default)]
    pub ordinal: bool,
}

/// A multi-turn conversation: each turn is answered with the dialogue state the previous ones
/// left, as a citizen would experience it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Conversation {
    pub id: String,
    #[serde(default)]
    pub style: Option<String>,
    pub turns: Vec<ScriptedTurn>,
}

pub fn load_conversations(path: &Path) -> anyhow::Result<Vec<Conversation>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).with_context(|| format!("{}:{}: not a conversation line", path.display(), i + 1))
        })
        .collect()
}

/// Turn accuracy of scripted conversations.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConversationReport {
    pub n_conversations: usize,
    /// (right, total) over every turn.
    pub turns: (usize, usize),
    /// (right, total) over turns after the first: the ones that need memory.
    pub follow_ups: (usize, usize),
    /// (right, total) over turns that pick an option listed before.
    pub ordinals: (usize, usize),
    /// (right, total) over every turn, by conversation style.
    pub by_style: BTreeMap<String, (usize, usize)>,
    /// Conversations whole-right.
    pub whole: usize,
    /// (conversation id, turn index, user text, expected, got intent, got guides) of wrong turns.
    pub misses: Vec<TurnMiss>,
}

/// A wrong turn: conversation id, turn index, user text, expected guides, the intent and the
/// guides it got.
pub type TurnMiss = (String, usize, String, Vec<String>, Intent, Vec<String>);

/// A turn is right when the intent is the expected one and, for a service turn with expected
/// guides, the reply's first guide is one of them.
pub fn run_conversations(engine: &Engine, conversations: &[Conversation]) -> anyhow::Result<ConversationReport> {
    run_conversations_showing(engine, conversations, None)
}

/// [`run_conversations`], counting the conversations done in `progress`.
pub fn run_conversations_showing(
    engine: &Engine,
    conversations: &[Conversation],
    progress: Option<&bot::semantic::Progress>,
) -> anyhow::Result<ConversationReport> {
    if let Some(progress) = progress {
        progress.set_phase("evaluating");
        progress.begin(conversations.len());
    }
    let mut report = ConversationReport {
        n_conversations: conversations.len(),
        ..ConversationReport::default()
    };
    let add = |cell: &mut (usize, usize), right: bool| {
        cell.0 += usize::from(right);
        cell.1 += 1;
    };
    for conversation in conversations {
        if let Some(progress) = progress {
            progress.advance(1);
        }
        let mut state = DialogueState::default();
        let mut all_right = true;
        let style = conversation.style.clone().unwrap_or_else(|| "other".into());
        for (i, turn) in conversation.turns.iter().enumerate() {
            let (next, reply) = bot::respond(engine, &bot::Context::anonymous(), &state, &turn.user)?;
            state = next;
            let got: Vec<String> = reply.guides.iter().map(|g| g.id.clone()).collect();
            let guide_right = turn.intent != Intent::Service
                || turn.expected.is_empty()
                || got.first().is_some_and(|id| turn.expected.contains(id));
            let right = reply.intent == turn.intent && guide_right;
            all_right &= right;
            add(&mut report.turns, right);
            add(report.by_style.entry(style.clone()).or_default(), right);
            if i > 0 {
                add(&mut report.follow_ups, right);
            }
            if turn.ordinal {
                add(&mut report.ordinals, right);
            }
            if !right {
                report.misses.push((
                    conversation.id.clone(),
                    i,
                    turn.user.clone(),
                    turn.expected.clone(),
                    reply.intent,
                    got.into_iter().take(3).collect(),
                ));
            }
        }
        report.whole += usize::from(all_right);
    }
    Ok(report)
}

impl ConversationReport {
    pub fn table(&self) -> String {
        let ratio = |(right, total): (usize, usize)| right as f64 / total.max(1) as f64;
        let mut out = format!("conversations: {} (whole-right {})\n", self.n_conversations, self.whole);
        out.push_str("| metric | right / total | value |\n|---|---|---|\n");
        for (name, cell) in [
            ("turns", self.turns),
            ("follow-up turns", self.follow_ups),
            ("ordinal turns", self.ordinals),
        ] {
            out.push_str(&format!("| {name} | {}/{} | {:.3} |\n", cell.0, cell.1, ratio(cell)));
        }
        out.push_str("\nturns right by style:\n");
        for (style, cell) in &self.by_style {
            out.push_str(&format!("  {style:<13} {}/{} = {:.3}\n", cell.0, cell.1, ratio(*cell)));
        }
        out
    }
}
