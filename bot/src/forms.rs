//! Filling a form in conversation: one missing field at a time, several values in one
//! message, corrections at any point, “跳过” for optional fields, “取消” with a confirmation,
//! values prefilled from the citizen's e-licences, and a summary to confirm before submitting.
//!
//! The submission itself is an [`Effect`] that the caller carries out (it needs the
//! database); this module stays pure.

use std::collections::BTreeMap;

use knowledge::{Corpus, Field, Form, Guide};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

use crate::Context;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Typed,
    /// Prefilled from this e-licence type.
    ELicense(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Value {
    pub value: String,
    pub source: Source,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Collecting,
    Confirming,
    /// “取消” was said; waiting for yes or no. Remembers where it was.
    ConfirmCancel {
        confirming: bool,
    },
}

/// A form being filled, kept in the dialogue state (and as a draft for logged-in users).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormState {
    pub service_id: String,
    pub values: BTreeMap<String, Value>,
    pub skipped: Vec<String>,
    pub awaiting: Option<String>,
    pub phase: Phase,
    /// Distinguishes this filling from another of the same service (idempotency).
    pub nonce: u32,
}

/// A materials line of an application: what it is and how it is provided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaterialSource {
    pub name: String,
    /// `e_license` (fetched, 免于提交), `upload` (the applicant provides it).
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e_license: Option<String>,
}

/// What the caller must do after this turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Create the application (all parts of a bundle at once).
    Submit(Submission),
    /// List the user's applications and tickets.
    ListStatus,
    /// Create a 12345 ticket.
    CreateTicket(crate::TicketRequest),
    /// Record a rating of `target` (`application`/`ticket`/`conversation`, id).
    Rate {
        target: (String, String),
        rating: crate::RatingRequest,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub service_id: String,
    pub fields: BTreeMap<String, String>,
    pub materials: Vec<MaterialSource>,
    /// Member services of a bundle, each becoming a part with its own status.
    pub parts: Vec<String>,
    /// Same form, same key: a double submit creates one application.
    pub idempotency_key: String,
}

/// The form as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FormView {
    pub service_id: String,
    /// collecting, confirming, submitted, cancelled
    pub state: String,
    pub fields: Vec<FieldView>,
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldView {
    pub name: String,
    pub label: String,
    pub value: Option<String>,
    /// filled, prefilled, skipped, missing
    pub status: String,
}

/// Starts a form: prefills what the citizen's e-licences hold.
pub fn start(form: &Form, context: &Context<'_>, nonce: u32) -> FormState {
    let mut values = BTreeMap::new();
    if let Some(user) = context.user {
        for field in &form.fields {
            if let Some((kind, name)) = field.prefill_source()
                && let Some(license) = user.e_licenses.iter().find(|l| l.kind == kind)
                && let Some(value) = license.fields.get(name)
                && field.check(value).is_ok()
            {
                values.insert(
                    field.name.clone(),
                    Value {
                        value: value.clone(),
                        source: Source::ELicense(kind.into()),
                    },
                );
            }
        }
    }
    FormState {
        service_id: form.service_id.clone(),
        values,
        skipped: Vec::new(),
        awaiting: None,
        phase: Phase::Collecting,
        nonce,
    }
}

/// The materials of a guide (and of a bundle's members) with how each is provided.
pub fn materials(corpus: &Corpus, guide: &Guide, context: &Context<'_>) -> Vec<MaterialSource> {
    let mut guides = vec![guide];
    guides.extend(guide.members.iter().filter_map(|m| corpus.guide(m)).map(|g| g.as_ref()));
    let mut out: Vec<MaterialSource> = Vec::new();
    for material in guides.iter().flat_map(|g| g.materials.iter()) {
        if out.iter().any(|m| m.name == material.name) {
            continue;
        }
        let held = material.e_license.as_ref().filter(|kind| {
            context
                .user
                .is_some_and(|u| u.e_licenses.iter().any(|l| &l.kind == *kind))
        });
        out.push(MaterialSource {
            name: material.name.clone(),
            source: if held.is_some() { "e_license" } else { "upload" }.to_string(),
            e_license: held.cloned(),
        });
    }
    out
}

static ID_NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(?:^|[^0-9a-z])(\d{17}[\dx])(?:$|[^0-9a-z])").unwrap());
static CREDIT_CODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[^0-9A-Z])([0-9A-Z]{18})(?:$|[^0-9A-Z])").unwrap());
static MOBILE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\D)((?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4})(?:$|\D)").unwrap());
static DATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?|\d{8})").unwrap());
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(孩子|宝宝|新生儿|小孩)?(?:的)?(?:名字|姓名)?(?:叫|是|为|：|:)\s*([\p{Han}·]{2,5}?)(?:$|[，,。.;；\s电手身地我的，])").unwrap()
});

const CANCEL: &[&str] = &["取消", "不办了", "不想办了", "算了"];
const YES: &[&str] = &[
    "是", "确认", "确定", "好的", "好", "对", "没错", "提交", "可以", "嗯", "yes", "ok",
];
const SKIP: &[&str] = &["跳过", "不填", "没有", "略过", "skip"];
const CORRECTION: &[&str] = &["写错", "填错", "改成", "改为", "改一下", "更正", "错了", "修改", "不对"];

fn is_one_of(text: &str, words: &[&str]) -> bool {
    let text = text
        .trim()
        .trim_end_matches(['。', '！', '!', '.', '，', ','])
        .to_lowercase();
    words.iter().any(|w| text == *w)
}

fn mentions_any(text: &str, words: &[&str]) -> bool {
    words.iter().any(|w| text.contains(w))
}

/// Words citizens use for a field besides its label.
fn keywords(field: &Field) -> Vec<&str> {
    let mut words = vec![field.label.as_str()];
    words.extend(match field.name.as_str() {
        "mobile" => &["电话", "手机", "号码"][..],
        "id_number" => &["身份证"][..],
        "name" => &["姓名", "名字"][..],
        "child_name" => &["孩子名字", "宝宝名字", "孩子的名字", "宝宝的名字"][..],
        "credit_code" => &["信用代码", "代码"][..],
        name if name.ends_with("address") => &["地址"][..],
        name if name.ends_with("date") || name.ends_with("_start") => &["日期", "时间"][..],
        _ => &[][..],
    });
    words
}

/// What a message says about the form.
pub struct Outcome {
    pub text: String,
    pub quick_replies: Vec<String>,
    /// The form's new state; `None` when it ended (submitted or cancelled).
    pub form: Option<FormState>,
    pub ended: Option<&'static str>,
    pub effect: Option<Effect>,
}

/// One turn of form filling.
pub fn turn(corpus: &Corpus, form: &Form, mut state: FormState, context: &Context<'_>, message: &str) -> Outcome {
    let text = index::normalize(message.trim());
    let guide = corpus.guide(&state.service_id).cloned();
    let title_owned = guide.as_ref().map_or(state.service_id.clone(), |g| g.title.clone());
    let title = title_owned.as_str();

    if let Phase::ConfirmCancel { confirming } = state.phase {
        if is_one_of(&text, YES) || mentions_any(&text, &["确认取消", "确定取消"]) {
            return Outcome {
                text: format!("已取消《{title}》的申请，填写的内容不会提交。需要时可以随时重新办理。"),
                quick_replies: vec![],
                form: None,
                ended: Some("cancelled"),
                effect: None,
            };
        }
        state.phase = if confirming {
            Phase::Confirming
        } else {
            Phase::Collecting
        };
        let mut outcome = next_question(form, state, title, context);
        outcome.text = format!("好的，继续办理。{}", outcome.text);
        return outcome;
    }
    if mentions_any(&text, CANCEL) {
        state.phase = Phase::ConfirmCancel {
            confirming: state.phase == Phase::Confirming,
        };
        return Outcome {
            text: format!("确定要取消《{title}》的申请吗？已填写的内容将不会保存。"),
            quick_replies: vec!["确认取消".into(), "继续办理".into()],
            form: Some(state),
            ended: None,
            effect: None,
        };
    }
    if state.phase == Phase::Confirming && (is_one_of(&text, YES) || mentions_any(&text, &["确认提交", "提交申请"]))
    {
        let Some(user) = context.user else {
            return Outcome {
                text: "提交申请需要先登录（统一身份认证）。您填写的内容已保留，登录后回复“确认提交”即可。".into(),
                quick_replies: vec!["登录".into(), "确认提交".into()],
                form: Some(state),
                ended: None,
                effect: None,
            };
        };
        let Some(guide) = guide.as_deref() else {
            return Outcome {
                text: "该事项已下线，无法提交。".into(),
                quick_replies: vec![],
                form: None,
                ended: Some("cancelled"),
                effect: None,
            };
        };
        let submission = Submission {
            service_id: state.service_id.clone(),
            fields: state.values.iter().map(|(k, v)| (k.clone(), v.value.clone())).collect(),
            materials: materials(corpus, guide, context),
            parts: if guide.kind == knowledge::GuideKind::Bundle {
                guide.members.clone()
            } else {
                Vec::new()
            },
            idempotency_key: format!("{}:{}:{}", user.id, state.service_id, state.nonce),
        };
        return Outcome {
            text: String::new(),
            quick_replies: vec![],
            form: None,
            ended: Some("submitted"),
            effect: Some(Effect::Submit(submission)),
        };
    }

    let correcting = mentions_any(&text, CORRECTION);
    let mut errors: Vec<String> = Vec::new();
    let mut changed = false;

    // Values recognisable by their shape, anywhere in the message.
    for field in &form.fields {
        let found = match field.kind {
            knowledge::validators::ValidatorKind::IdNumber => ID_NUMBER.captures(&text).map(|c| c[1].to_string()),
            knowledge::validators::ValidatorKind::CreditCode => {
                CREDIT_CODE.captures(&text.to_uppercase()).map(|c| c[1].to_string())
            }
            knowledge::validators::ValidatorKind::Mobile => MOBILE.captures(&text).map(|c| c[1].to_string()),
            knowledge::validators::ValidatorKind::Date
                if state.awaiting.as_deref() == Some(field.name.as_str()) || mentions_any(&text, &keywords(field)) =>
            {
                DATE.captures(&text).map(|c| c[1].to_string())
            }
            _ => None,
        };
        let found = found.or_else(|| {
            if field.options.iter().all(|o| o.chars().count() >= 2) {
                field.options.iter().find(|o| text.contains(o.as_str())).cloned()
            } else {
                None
            }
        });
        let found = found.or_else(|| {
            let is_child = field.name.starts_with("child");
            if !field.name.ends_with("name") || !(field.name == "name" || is_child) {
                return None;
            }
            NAME.captures(&text)
                .filter(|c| c.get(1).is_some() == is_child)
                .map(|c| c[2].to_string())
        });
        if let Some(raw) = found {
            match field.check(&raw) {
                Ok(value) => {
                    let old = state.values.insert(
                        field.name.clone(),
                        Value {
                            value,
                            source: Source::Typed,
                        },
                    );
                    state.skipped.retain(|s| s != &field.name);
                    changed |= old.is_none_or(|o| {
                        o.source != Source::Typed || Some(&o.value) != state.values.get(&field.name).map(|v| &v.value)
                    });
                    if state.awaiting.as_deref() == Some(field.name.as_str()) {
                        state.awaiting = None;
                    }
                }
                Err(invalid) => {
                    errors.push(format!("{}不正确：{}", field.label, invalid.message));
                    state.awaiting = Some(field.name.clone());
                }
            }
        }
    }

    // The answer to the question just asked.
    if !changed
        && errors.is_empty()
        && let Some(name) = state.awaiting.clone()
        && let Some(field) = form.fields.iter().find(|f| f.name == name)
    {
        if is_one_of(&text, SKIP) {
            if field.required {
                errors.push(format!("{}是必填项，不能跳过。", field.label));
            } else {
                state.skipped.push(field.name.clone());
                state.awaiting = None;
                changed = true;
            }
        } else {
            // “我的手机是139…”: try the text after a “是”/“：”, then the whole message.
            let candidates = answer_candidates(&text);
            let checked: Vec<Result<String, knowledge::validators::Invalid>> =
                candidates.iter().map(|c| field.check(c)).collect();
            match checked.iter().find_map(|r| r.as_ref().ok()) {
                Some(value) => {
                    state.values.insert(
                        field.name.clone(),
                        Value {
                            value: value.clone(),
                            source: Source::Typed,
                        },
                    );
                    state.awaiting = None;
                    changed = true;
                }
                None => {
                    let message = checked
                        .into_iter()
                        .find_map(Result::err)
                        .map(|e| e.message)
                        .unwrap_or_default();
                    errors.push(format!("{}不正确：{}", field.label, message));
                }
            }
        }
    }

    // “电话写错了” without the new value: ask for that field again.
    if correcting
        && !changed
        && errors.is_empty()
        && let Some(field) = form
            .fields
            .iter()
            .find(|f| keywords(f).iter().any(|k| text.contains(k)))
    {
        state.awaiting = Some(field.name.clone());
        state.phase = Phase::Collecting;
        return Outcome {
            text: format!("好的，请重新输入{}{}", field.label, help_suffix(field)),
            quick_replies: vec![],
            form: Some(state),
            ended: None,
            effect: None,
        };
    }

    if !errors.is_empty() {
        let field = state
            .awaiting
            .as_ref()
            .and_then(|n| form.fields.iter().find(|f| &f.name == n));
        let again = field
            .map(|f| format!("\n请重新输入{}{}", f.label, help_suffix(f)))
            .unwrap_or_default();
        return Outcome {
            text: format!("{}{again}", errors.join("\n")),
            quick_replies: vec!["取消".into()],
            form: Some(state),
            ended: None,
            effect: None,
        };
    }
    if !changed && state.phase == Phase::Confirming {
        return Outcome {
            text: "请回复“确认提交”提交申请；要修改某一项，直接说出新的内容，例如“电话改成13912345678”；也可以回复“取消”。".into(),
            quick_replies: vec!["确认提交".into(), "取消".into()],
            form: Some(state),
            ended: None,
            effect: None,
        };
    }
    state.phase = Phase::Collecting;
    let mut outcome = next_question(form, state, title, context);
    if !changed && !outcome.text.is_empty() {
        outcome.text = format!("没有识别到需要的信息。{}", outcome.text);
    }
    outcome
}

/// What an answer may mean, most specific first: the text after the last “是”, “为” or
/// colon (“我的手机是139…” → “139…”), then the whole message.
fn answer_candidates(text: &str) -> Vec<&str> {
    let text = text.trim();
    let mut candidates = Vec::new();
    if let Some(pos) = text.rfind(['是', '为', '：', ':']) {
        let separator = text[pos..].chars().next().map_or(1, char::len_utf8);
        let rest = text[pos + separator..].trim();
        if !rest.is_empty() {
            candidates.push(rest);
        }
    }
    candidates.push(text);
    candidates
}

fn help_suffix(field: &Field) -> String {
    field.help.as_ref().map(|h| format!("（{h}）")).unwrap_or_default()
}

fn missing<'a>(form: &'a Form, state: &FormState) -> Vec<&'a Field> {
    form.fields
        .iter()
        .filter(|f| !state.values.contains_key(&f.name) && !state.skipped.contains(&f.name))
        .collect()
}

/// Asks for the next missing field, or shows the summary to confirm.
pub fn next_question(form: &Form, mut state: FormState, title: &str, context: &Context<'_>) -> Outcome {
    if let Some(field) = missing(form, &state).first() {
        state.awaiting = Some(field.name.clone());
        let optional = if field.required {
            ""
        } else {
            "（选填，可回复“跳过”）"
        };
        let mut quick_replies: Vec<String> = field.options.clone();
        if !field.required {
            quick_replies.push("跳过".into());
        }
        quick_replies.push("取消".into());
        let choices = if field.options.is_empty() || field.help.is_some() {
            String::new()
        } else {
            format!("（可选：{}）", field.options.join("、"))
        };
        return Outcome {
            text: format!("请输入{}{}{}{}", field.label, optional, choices, help_suffix(field)),
            quick_replies,
            form: Some(state),
            ended: None,
            effect: None,
        };
    }
    state.awaiting = None;
    state.phase = Phase::Confirming;
    let mut lines = vec![format!("请核对《{title}》的申请信息：")];
    for field in &form.fields {
        match state.values.get(&field.name) {
            Some(value) => {
                let mark = match &value.source {
                    Source::ELicense(_) => "（来自电子证照）",
                    Source::Typed => "",
                };
                lines.push(format!("· {}：{}{}", field.label, value.value, mark));
            }
            None => lines.push(format!("· {}：（未填写）", field.label)),
        }
    }
    let _ = context;
    lines.push("确认无误请回复“确认提交”；要修改直接说出新内容，例如“电话改成13912345678”。".into());
    Outcome {
        text: lines.join("\n"),
        quick_replies: vec!["确认提交".into(), "取消".into()],
        form: Some(state),
        ended: None,
        effect: None,
    }
}

/// The opening of a form: what was prefilled and which materials are 免于提交, then the
/// first question.
pub fn opening(corpus: &Corpus, form: &Form, state: FormState, context: &Context<'_>) -> Outcome {
    let guide = corpus.guide(&state.service_id).cloned();
    let title_owned = guide.as_ref().map_or(state.service_id.clone(), |g| g.title.clone());
    let title = title_owned.as_str();
    let guide = guide.as_deref();
    let mut lines = vec![format!("好的，开始在线办理《{title}》。")];
    if guide.is_some_and(|g| g.kind == knowledge::GuideKind::Bundle) {
        let members: Vec<String> = guide
            .map(|g| {
                g.members
                    .iter()
                    .filter_map(|m| corpus.guide(m))
                    .map(|m| m.title.clone())
                    .collect()
            })
            .unwrap_or_default();
        lines.push(format!(
            "这是“一件事”联办：填一张表，同时申请{}，相同的信息只填一次。",
            members.join("、")
        ));
    }
    let prefilled: Vec<String> = form
        .fields
        .iter()
        .filter(|f| {
            matches!(
                state.values.get(&f.name),
                Some(Value {
                    source: Source::ELicense(_),
                    ..
                })
            )
        })
        .map(|f| f.label.clone())
        .collect();
    if !prefilled.is_empty() {
        lines.push(format!("已从您的电子证照自动填写：{}。", prefilled.join("、")));
    }
    if let Some(guide) = guide {
        let mut licenses: Vec<String> = Vec::new();
        let mut n_exempt = 0;
        for material in materials(corpus, guide, context)
            .into_iter()
            .filter(|m| m.source == "e_license")
        {
            n_exempt += 1;
            let kind = material.e_license.unwrap_or_default();
            let name = corpus.e_license(&kind).map_or(kind.clone(), |e| e.name.clone());
            if !licenses.contains(&name) {
                licenses.push(name);
            }
        }
        if n_exempt > 0 {
            lines.push(format!(
                "已调取您的{}电子证照，相关的 {n_exempt} 项材料免于提交。",
                licenses.join("、")
            ));
        } else if context.user.is_none() {
            lines.push("登录后可自动调取您的电子证照，免填免交。".into());
        }
    }
    let next = next_question(form, state, title, context);
    lines.push(next.text);
    Outcome {
        text: lines.join("\n"),
        ..next
    }
}

/// The form as the API shows it.
pub fn view(form: &Form, state: &FormState, ended: Option<&str>) -> FormView {
    let phase = match (ended, state.phase) {
        (Some(end), _) => end.to_string(),
        (None, Phase::Confirming) => "confirming".into(),
        (None, Phase::ConfirmCancel { confirming: true }) => "confirming".into(),
        (None, _) => "collecting".into(),
    };
    let fields = form
        .fields
        .iter()
        .map(|f| {
            let value = state.values.get(&f.name);
            let status = match value {
                Some(Value {
                    source: Source::ELicense(_),
                    ..
                }) => "prefilled",
                Some(_) => "filled",
                None if state.skipped.contains(&f.name) => "skipped",
                None => "missing",
            };
            FieldView {
                name: f.name.clone(),
                label: f.label.clone(),
                value: value.map(|v| v.value.clone()),
                status: status.into(),
            }
        })
        .collect();
    FormView {
        service_id: state.service_id.clone(),
        state: phase,
        fields,
        missing: missing(form, state)
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name.clone())
            .collect(),
    }
}
