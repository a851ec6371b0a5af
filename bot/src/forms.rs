//! Filling a form in conversation: one missing field at a time, several values in one
//! message, corrections at any point, “跳过” for optional fields, “取消” with a confirmation,
//! values prefilled from the citizen's e-licences, and a summary to confirm before submitting.
//!
//! The submission itself is an [`Effect`] that the caller carries out (it needs the
//! database); this module stays pure.

use std::collections::BTreeMap;

use knowledge::phrases::lists;
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
    /// The name of the logged-in citizen (no ID-card e-licence to take it from).
    Identity,
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
    /// 代办: the logged-in citizen applies for someone else, named in the form; the record
    /// names both, and nothing is taken from the agent's identity or e-licences.
    #[serde(default)]
    pub on_behalf: bool,
    /// Files attached to the form's materials (material name → file), from this
    /// conversation's uploads.
    #[serde(default)]
    pub attached: BTreeMap<String, crate::Attachment>,
}

/// A materials line of an application: what it is and how it is provided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaterialSource {
    pub name: String,
    /// `e_license` (fetched, 免于提交), `attached` (a file uploaded in the conversation and
    /// held with the application), `upload` (the applicant provides it another way, such as
    /// at the window, or it is only needed in some cases).
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e_license: Option<String>,
    /// The upload's id, for `attached`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
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
    /// The citizen says their own request is resolved (“投诉已经解决了”): record their
    /// confirmation. `number` is the ticket this conversation knows (the rateable one);
    /// `None` means the citizen's most recently answered ticket. The reply offers a rating,
    /// so the caller should also make that ticket `DialogueState::rateable`.
    ConfirmTicket { number: Option<String> },
    /// List free appointment slots of a service (`moving`: to replace the citizen's booking),
    /// and remember them in `DialogueState::slots`.
    OfferSlots {
        service_id: String,
        day: Option<crate::when::Day>,
        part: Option<crate::when::PartOfDay>,
        moving: bool,
    },
    /// Book an offered slot (replacing the citizen's booking of that service when `moving`).
    Book {
        slot: crate::appointments::OfferedSlot,
        moving: bool,
    },
    /// Cancel the citizen's booking (of this service, or the next one they have).
    CancelAppointment { service_id: Option<String> },
    /// List the citizen's bookings.
    ListAppointments,
    /// Show the citizen's application waiting for 补正 and take files for it (the caller
    /// sets `DialogueState::correcting`).
    StartCorrection,
    /// Send the corrected application back, with the files uploaded for it.
    Resubmit { number: String },
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
    /// 代办: the fields describe someone else; the logged-in submitter is the agent.
    pub on_behalf: bool,
    /// The uploads the application takes over (ids).
    pub uploads: Vec<String>,
}

/// The form as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FormView {
    pub service_id: String,
    /// collecting, confirming, submitted, cancelled
    pub state: String,
    pub fields: Vec<FieldView>,
    pub missing: Vec<String>,
    /// The materials to upload and whether each is there.
    pub uploads: Vec<UploadView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UploadView {
    pub material: String,
    pub required: bool,
    /// attached, missing (required), optional (not required, not attached)
    pub status: String,
    pub file_name: Option<String>,
    pub help: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldView {
    pub name: String,
    pub label: String,
    pub value: Option<String>,
    /// filled, prefilled, skipped, missing
    pub status: String,
}

/// Prefill sources that are who the citizen (or company) is, not something they hold: typed
/// over, they would let one person apply in another's name. Filled from the login and locked.
const IDENTITY_SOURCES: &[&str] = &["id_card.name", "id_card.number", "business_license.credit_code"];

fn identity_bound(field: &Field) -> bool {
    field
        .prefill
        .as_deref()
        .is_some_and(|source| IDENTITY_SOURCES.contains(&source))
}

/// The value the logged-in identity gives a field: its e-licence's, or for a citizen without
/// an ID-card e-licence, the login's name. `None` when the field is not identity-bound.
pub fn identity_value(field: &Field, user: &crate::UserContext) -> Option<Value> {
    if !identity_bound(field) {
        return None;
    }
    let (kind, name) = field.prefill_source()?;
    if let Some(license) = user.e_licenses.iter().find(|l| l.kind == kind) {
        let raw = license
            .fields
            .get(name)
            .or((name == "number").then_some(&license.number))?;
        return field.check(raw).ok().map(|value| Value {
            value,
            source: Source::ELicense(kind.into()),
        });
    }
    // A company's login name is the company's, never a person's name.
    let citizen = !user.e_licenses.iter().any(|l| l.kind == "business_license");
    ((kind, name) == ("id_card", "name") && citizen && !user.name.is_empty())
        .then(|| field.check(&user.name).ok())
        .flatten()
        .map(|value| Value {
            value,
            source: Source::Identity,
        })
}

/// Binds a draft to the identity that submits it (a draft started anonymously, or before a
/// change of login): fills the identity-bound fields that are empty and marks the agreeing
/// ones as coming from the identity. Returns the names of the fields whose value disagrees,
/// leaving them as they are.
///
/// Recommended for the caller at submission: on `Err`, refuse the submission and show the
/// summary again with the identity's values (see [`overwrite_identity`]) for the citizen to
/// confirm; never overwrite silently, since the citizen confirmed the values they saw. The
/// dialogue does exactly that at “确认提交”.
pub fn bind_identity(form: &Form, state: &mut FormState, user: &crate::UserContext) -> Result<(), Vec<String>> {
    let mut disagree = Vec::new();
    for field in &form.fields {
        let Some(identity) = identity_value(field, user) else {
            continue;
        };
        match state.values.get(&field.name) {
            Some(value) if value.value != identity.value => disagree.push(field.name.clone()),
            _ => {
                state.skipped.retain(|s| s != &field.name);
                state.values.insert(field.name.clone(), identity);
            }
        }
    }
    if disagree.is_empty() { Ok(()) } else { Err(disagree) }
}

/// Replaces the named fields' values with the identity's (after [`bind_identity`] refused).
pub fn overwrite_identity(form: &Form, state: &mut FormState, user: &crate::UserContext, names: &[String]) {
    for field in form.fields.iter().filter(|f| names.contains(&f.name)) {
        if let Some(identity) = identity_value(field, user) {
            state.values.insert(field.name.clone(), identity);
        }
    }
}

/// Why an identity-bound field cannot be typed over, in the citizen's words.
fn locked_explanation(fields: &[&Field]) -> String {
    let company = fields
        .iter()
        .any(|f| f.prefill.as_deref().is_some_and(|p| p.starts_with("business_license.")));
    let person = fields
        .iter()
        .any(|f| f.prefill.as_deref().is_some_and(|p| p.starts_with("id_card.")));
    let mut lines = Vec::new();
    if person {
        lines.push("姓名和身份证号来自您的登录身份，不能修改；如需为他人办理，请使用代办。".to_string());
    }
    if company {
        lines.push("统一社会信用代码来自您登录的企业身份，不能修改；如需为其他企业办理，请使用代办。".to_string());
    }
    lines.join("\n")
}

/// Starts a form: the identity-bound fields from the login, the rest prefilled from what
/// the citizen's e-licences hold.
pub fn start(form: &Form, context: &Context<'_>, nonce: u32) -> FormState {
    let mut values = BTreeMap::new();
    if let Some(user) = context.user {
        for field in &form.fields {
            if let Some(value) = identity_value(field, user) {
                values.insert(field.name.clone(), value);
            } else if let Some((kind, name)) = field.prefill_source()
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
        on_behalf: false,
        attached: BTreeMap::new(),
    }
}

/// The materials of a guide (and of a bundle's members) with how each is provided.
pub fn materials(
    corpus: &Corpus,
    guide: &Guide,
    context: &Context<'_>,
    attached: &BTreeMap<String, crate::Attachment>,
) -> Vec<MaterialSource> {
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
        let file = attached.get(&material.name).filter(|_| held.is_none());
        out.push(MaterialSource {
            name: material.name.clone(),
            source: match (held, file) {
                (Some(_), _) => "e_license",
                (None, Some(_)) => "attached",
                (None, None) => "upload",
            }
            .to_string(),
            e_license: held.cloned(),
            upload_id: file.map(|f| f.id.clone()),
            file_name: file.map(|f| f.file_name.clone()),
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

fn is_one_of<S: AsRef<str>>(text: &str, words: &[S]) -> bool {
    let text = text
        .trim()
        .trim_end_matches(['。', '！', '!', '.', '，', ','])
        .to_lowercase();
    words.iter().any(|w| text == w.as_ref())
}

pub(crate) fn mentions_any<S: AsRef<str>>(text: &str, words: &[S]) -> bool {
    words.iter().any(|w| text.contains(w.as_ref()))
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
        if is_one_of(&text, corpus.phrases.words(lists::FORM_YES)) || mentions_any(&text, &["确认取消", "确定取消"])
        {
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
    if mentions_any(&text, corpus.phrases.words(lists::FORM_CANCEL)) {
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
    // 代办: from now on the form describes someone else.
    if !state.on_behalf
        && let Some(user) = context.user
        && mentions_any(&text, corpus.phrases.words(lists::ON_BEHALF))
    {
        state.on_behalf = true;
        state.values.retain(|_, value| value.source == Source::Typed);
        let names: Vec<&str> = form
            .fields
            .iter()
            .filter(|f| identity_bound(f))
            .map(|f| f.label.as_str())
            .collect();
        let mut outcome = next_question(form, state, title, &Context::anonymous());
        outcome.text = format!(
            "好的，改为代办：{}请填写被代办人的；办件上写明被代办人和代办人（您，{}）。被代办人的电子证照不能自动调取，相关材料需上传。\n{}",
            if names.is_empty() {
                String::new()
            } else {
                names.join("、")
            },
            user.name,
            outcome.text
        );
        return outcome;
    }
    // A file uploaded since the last turn: attach it and move on.
    let received = attach_uploads(form, &mut state, context);
    if !received.is_empty() {
        state.phase = Phase::Collecting;
        let mut outcome = next_question(form, state, title, context);
        outcome.text = format!("已收到{}。\n{}", received.join("、"), outcome.text);
        return outcome;
    }
    if let Some(material) = state.awaiting.as_deref().and_then(|a| a.strip_prefix(UPLOAD_PREFIX))
        && is_one_of(&text, corpus.phrases.words(lists::FORM_SKIP))
    {
        let material = material.to_string();
        let mut outcome = next_question(form, state, title, context);
        outcome.text = format!(
            "“{material}”是必须提交的材料，不能跳过。不方便上传的，可以回复“取消”，改为带材料到窗口办理。\n{}",
            outcome.text
        );
        return outcome;
    }
    // Logged in since the form began: the identity fills what is still empty.
    if let (Some(user), false) = (context.user, state.on_behalf) {
        for field in &form.fields {
            if !state.values.contains_key(&field.name)
                && let Some(value) = identity_value(field, user)
            {
                state.skipped.retain(|s| s != &field.name);
                state.values.insert(field.name.clone(), value);
            }
        }
    }
    let phrases = &corpus.phrases;
    let on_behalf = state.on_behalf;
    let locked = |field: &Field| {
        context
            .user
            .filter(|_| !on_behalf)
            .and_then(|user| identity_value(field, user))
    };

    if state.phase == Phase::Confirming
        && (is_one_of(&text, corpus.phrases.words(lists::FORM_YES)) || mentions_any(&text, &["确认提交", "提交申请"]))
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
        // A draft typed before logging in must agree with who submits it (unless it is 代办).
        if !state.on_behalf
            && let Err(names) = bind_identity(form, &mut state, user)
        {
            overwrite_identity(form, &mut state, user, &names);
            let labels: Vec<&str> = form
                .fields
                .iter()
                .filter(|f| names.contains(&f.name))
                .map(|f| f.label.as_str())
                .collect();
            let mut outcome = next_question(form, state, title, context);
            outcome.text = format!(
                "您填写的{}与登录身份不一致，已按登录身份更正（如需为他人办理，请使用代办）。请再核对一遍：\n{}",
                labels.join("、"),
                outcome.text
            );
            return outcome;
        }
        let Some(guide) = guide.as_deref() else {
            return Outcome {
                text: "该事项已下线，无法提交。".into(),
                quick_replies: vec![],
                form: None,
                ended: Some("cancelled"),
                effect: None,
            };
        };
        let anonymous = Context::anonymous();
        let submission = Submission {
            service_id: state.service_id.clone(),
            fields: state.values.iter().map(|(k, v)| (k.clone(), v.value.clone())).collect(),
            // The agent's e-licences are not the principal's: nothing is 免于提交 by them.
            materials: materials(
                corpus,
                guide,
                if state.on_behalf { &anonymous } else { context },
                &state.attached,
            ),
            parts: if guide.kind == knowledge::GuideKind::Bundle {
                guide.members.clone()
            } else {
                Vec::new()
            },
            idempotency_key: format!("{}:{}:{}", user.id, state.service_id, state.nonce),
            on_behalf: state.on_behalf,
            uploads: state.attached.values().map(|a| a.id.clone()).collect(),
        };
        return Outcome {
            text: String::new(),
            quick_replies: vec![],
            form: None,
            ended: Some("submitted"),
            effect: Some(Effect::Submit(submission)),
        };
    }

    let correcting = mentions_any(&text, corpus.phrases.words(lists::FORM_CORRECTION));
    let mut errors: Vec<String> = Vec::new();
    let mut changed = false;
    // Identity-bound fields the message tried to change.
    let mut refused: Vec<&Field> = Vec::new();

    // Values recognisable by their shape, anywhere in the message: the field asked first, and
    // one value fills one field (a form with two ID numbers, the applicant's and another
    // person's, takes the one typed for the field asked).
    let mut ordered: Vec<&Field> = form.fields.iter().collect();
    ordered.sort_by_key(|f| state.awaiting.as_deref() != Some(f.name.as_str()));
    let mut consumed: Vec<String> = Vec::new();
    for field in ordered {
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
        let awaited = state.awaiting.as_deref() == Some(field.name.as_str());
        let mut guessed = false;
        let found = found.or_else(|| {
            let is_child = field.name.starts_with("child");
            if !field.name.ends_with("name") || !(field.name == "name" || is_child) {
                return None;
            }
            guessed = true;
            NAME.captures(&text)
                .filter(|c| c.get(1).is_some() == is_child)
                .map(|c| c[2].to_string())
        });
        if let Some(raw) = found {
            if !field.options.is_empty() || guessed {
                // Options and name guesses belong to their field.
            } else if consumed.contains(&raw) {
                continue;
            } else {
                consumed.push(raw.clone());
            }
            if let Some(identity) = locked(field) {
                // A name guessed from “法定代表人是李华”, said while another person's name is
                // asked, is that person's, not a change of the applicant's own.
                let another_persons = guessed
                    && !mentions_any(&text, &["名字", "姓名", "我叫"])
                    && state
                        .awaiting
                        .as_deref()
                        .and_then(|a| form.fields.iter().find(|f| f.name == a))
                        .is_some_and(|f| f.kind == knowledge::validators::ValidatorKind::PersonName);
                if !another_persons && field.check(&raw).map_or(!guessed, |value| value != identity.value) {
                    refused.push(field);
                }
                continue;
            }
            let checked = field.check(&raw);
            // A name pattern's guess that is no name (“我是在线办理的”) says nothing.
            if guessed && !awaited && checked.is_err() {
                continue;
            }
            match checked {
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

    // “姓名写错了”: a correction of another field, not the answer to the question asked.
    let correction_target = form
        .fields
        .iter()
        .find(|f| keywords(f).iter().any(|k| text.contains(k)))
        .filter(|_| correcting && !changed && errors.is_empty() && refused.is_empty());
    // The answer to the question just asked.
    if !changed
        && errors.is_empty()
        && refused.is_empty()
        && correction_target.is_none()
        && let Some(name) = state.awaiting.clone()
        && let Some(field) = form.fields.iter().find(|f| f.name == name)
    {
        if locked(field).is_some() {
            refused.push(field);
        } else if is_one_of(&text, corpus.phrases.words(lists::FORM_SKIP)) {
            if field.required {
                errors.push(format!("{}是必填项，不能跳过。", field.label));
            } else {
                state.skipped.push(field.name.clone());
                state.awaiting = None;
                changed = true;
            }
        } else if !field.options.is_empty() {
            match match_option(phrases, field, &text) {
                Some(option) => {
                    state.values.insert(
                        field.name.clone(),
                        Value {
                            value: option,
                            source: Source::Typed,
                        },
                    );
                    state.awaiting = None;
                    changed = true;
                }
                None => errors.push(format!(
                    "没有听明白您选的是哪一项，请从以下选项中选择：{}",
                    field.options.join("、")
                )),
            }
        } else if field.kind == knowledge::validators::ValidatorKind::PersonName && is_command(&corpus.phrases, &text) {
            errors.push(format!("{}不正确：这看起来不是姓名，请输入证件上的姓名", field.label));
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
    if let Some(field) = correction_target {
        if locked(field).is_some() {
            let mut outcome = next_question(form, state, title, context);
            outcome.text = format!("{}\n{}", locked_explanation(&[field]), outcome.text);
            return outcome;
        }
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
        // The choices stay in reach after a refused answer.
        let mut quick_replies: Vec<String> = field.map_or_else(Vec::new, |f| f.options.clone());
        if field.is_some_and(|f| !f.required) {
            quick_replies.push("跳过".into());
        }
        quick_replies.push("取消".into());
        return Outcome {
            text: format!("{}{again}", errors.join("\n")),
            quick_replies,
            form: Some(state),
            ended: None,
            effect: None,
        };
    }
    let notice = if refused.is_empty() {
        String::new()
    } else {
        format!("{}\n", locked_explanation(&refused))
    };
    if !changed && !refused.is_empty() {
        let mut outcome = next_question(form, state, title, context);
        outcome.text = format!("{notice}{}", outcome.text);
        return outcome;
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
    let awaiting_file = state.awaiting.as_deref().is_some_and(|a| a.starts_with(UPLOAD_PREFIX));
    let mut outcome = next_question(form, state, title, context);
    if !changed && !outcome.text.is_empty() {
        let lead = if awaiting_file {
            "还没有收到文件。"
        } else {
            "没有识别到需要的信息。"
        };
        outcome.text = format!("{lead}{}", outcome.text);
    }
    outcome.text = format!("{notice}{}", outcome.text);
    outcome
}

/// Words of the dialogue's buttons and commands: never a value typed for a name.
fn is_command(phrases: &knowledge::Phrases, text: &str) -> bool {
    const COMMANDS: &[&str] = &[
        "在线办理",
        "确认提交",
        "提交申请",
        "继续办理",
        "确认取消",
        "转人工客服",
        "需要哪些材料",
        "要多长时间",
        "在哪里办理",
        "登录",
        "没错",
        "不知道",
    ];
    [lists::FORM_YES, lists::FORM_SKIP, lists::FORM_CANCEL]
        .iter()
        .any(|list| is_one_of(text, phrases.words(list)))
        || is_one_of(text, COMMANDS)
}

/// Text with each synonym replaced by its group's first word (`phrases.toml` `[options]`).
fn fold_synonyms(phrases: &knowledge::Phrases, text: &str) -> String {
    let text = index::normalize(text);
    let mut folded = String::new();
    let mut rest = text.as_str();
    while let Some(c) = rest.chars().next() {
        let longest = phrases
            .options
            .synonyms
            .iter()
            .flat_map(|group| group.iter().map(move |w| (w, &group[0])))
            .filter(|(w, _)| !w.is_empty() && rest.starts_with(w.as_str()))
            .max_by_key(|(w, _)| w.len());
        match longest {
            Some((word, head)) => {
                folded.push_str(head);
                rest = &rest[word.len()..];
            }
            None => {
                folded.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    folded
}

/// The option an answer means: for a yes/no choice, a yes or no read with negation (不设 is
/// 否, where “contains 是” would take 不是 for 是); the one option named; else the option
/// sharing most of its telling characters with the answer once synonyms are folded (寄到家里
/// → 邮寄到家, 自己去拿 → 窗口领取), when one is clearly best. `None`: ask again.
fn match_option(phrases: &knowledge::Phrases, field: &Field, text: &str) -> Option<String> {
    let options = &field.options;
    let yes = options.iter().find(|o| phrases.urgency.yes.contains(o));
    let no = options.iter().find(|o| phrases.urgency.no.contains(o));
    if options.len() == 2
        && let (Some(yes), Some(no)) = (yes, no)
    {
        let answer = crate::tickets::read_yes_no(phrases, text, false)?;
        return Some(if answer { yes.clone() } else { no.clone() });
    }
    let named: Vec<&String> = options.iter().filter(|o| text.contains(o.as_str())).collect();
    if let [one] = named[..] {
        return Some(one.clone());
    }
    let answer = fold_synonyms(phrases, text);
    let folded: Vec<String> = options.iter().map(|o| fold_synonyms(phrases, o)).collect();
    // Characters every option has (数电 in 数电普票, 数电专票) tell none apart.
    let common: std::collections::HashSet<char> = folded
        .first()
        .map(|first| {
            first
                .chars()
                .filter(|c| folded.iter().all(|o| o.contains(*c)))
                .collect()
        })
        .unwrap_or_default();
    let scores: Vec<usize> = folded
        .iter()
        .map(|option| {
            let telling: std::collections::HashSet<char> = option.chars().filter(|c| !common.contains(c)).collect();
            telling.iter().filter(|c| answer.contains(**c)).count()
        })
        .collect();
    let best = scores.iter().copied().max().unwrap_or(0);
    let n_best = scores.iter().filter(|s| **s == best).count();
    (best > 0 && n_best == 1)
        .then(|| scores.iter().position(|s| *s == best))
        .flatten()
        .map(|i| options[i].clone())
}

/// What an answer may mean, most specific first: the text after the last “是”, “为” or
/// colon (“我的手机是139…” → “139…”), then the whole message.
fn answer_candidates(text: &str) -> Vec<&str> {
    let text = text.trim();
    let mut candidates = Vec::new();
    if let Some(pos) = text.rfind(['是', '为', '叫', '：', ':']) {
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
    if let Some(upload) = missing_uploads(form, &state).first() {
        state.awaiting = Some(format!("{UPLOAD_PREFIX}{}", upload.material));
        state.phase = Phase::Collecting;
        let help = upload.help.as_ref().map(|h| format!("：{h}")).unwrap_or_default();
        return Outcome {
            text: format!(
                "请上传“{}”{help}。点输入框旁的“上传材料”按钮，拍照或选择文件（JPG、PNG 或 PDF，单个不超过 {} MB），上传后回复“已上传”。",
                upload.material, MAX_UPLOAD_MB
            ),
            quick_replies: vec!["已上传".into(), "取消".into()],
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
                    Source::Identity => "（来自登录身份）",
                    Source::Typed => "",
                };
                lines.push(format!("· {}：{}{}", field.label, value.value, mark));
            }
            None => lines.push(format!("· {}：（未填写）", field.label)),
        }
    }
    let _ = context;
    for upload in &form.uploads {
        match state.attached.get(&upload.material) {
            Some(file) => lines.push(format!("· 上传材料 {}：{}", upload.material, file.file_name)),
            None => lines.push(format!("· 上传材料 {}：未上传（选填，需要时可上传）", upload.material)),
        }
    }
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
                    source: Source::ELicense(_) | Source::Identity,
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
        for material in materials(corpus, guide, context, &state.attached)
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
                    source: Source::ELicense(_) | Source::Identity,
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
        uploads: form
            .uploads
            .iter()
            .map(|u| {
                let file = state.attached.get(&u.material);
                UploadView {
                    material: u.material.clone(),
                    required: u.required,
                    status: match (file, u.required) {
                        (Some(_), _) => "attached",
                        (None, true) => "missing",
                        (None, false) => "optional",
                    }
                    .into(),
                    file_name: file.map(|f| f.file_name.clone()),
                    help: u.help.clone(),
                }
            })
            .collect(),
    }
}

/// What `awaiting` holds while a material's file is asked for.
const UPLOAD_PREFIX: &str = "upload:";

/// The largest upload, in MB (the API refuses larger files with this figure).
pub const MAX_UPLOAD_MB: usize = 10;

/// Required uploads not attached yet, in the form's order.
fn missing_uploads<'a>(form: &'a Form, state: &FormState) -> Vec<&'a knowledge::forms::Upload> {
    form.uploads
        .iter()
        .filter(|u| u.required && !state.attached.contains_key(&u.material))
        .collect()
}

/// Attaches this conversation's uploads for the form's materials (a newer file for the same
/// material replaces the older); returns what was newly received, for the reply.
fn attach_uploads(form: &Form, state: &mut FormState, context: &Context<'_>) -> Vec<String> {
    let mut received = Vec::new();
    for upload in context.uploads {
        if !form.uploads.iter().any(|u| u.material == upload.material) {
            continue;
        }
        if state.attached.get(&upload.material).is_some_and(|a| a.id == upload.id) {
            continue;
        }
        received.push(format!("“{}”（{}）", upload.material, upload.file_name));
        state.attached.insert(upload.material.clone(), upload.clone());
    }
    received
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HeldLicense, UserContext};

    const OWN_ID: &str = "110101199003071233";
    const OTHER_ID: &str = "330106198505124567";

    fn corpus() -> Corpus {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../knowledge/data");
        Corpus::load(&dir).unwrap().corpus
    }

    fn citizen() -> UserContext {
        let fields = [("name", "张三"), ("number", OWN_ID)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        UserContext {
            id: "citizen-1".into(),
            name: "张三".into(),
            e_licenses: vec![HeldLicense {
                kind: "id_card".into(),
                number: OWN_ID.into(),
                fields,
            }],
        }
    }

    /// The ID-card renewal form, started and answered with `answers`.
    fn fill(corpus: &Corpus, context: &Context<'_>, answers: &[&str]) -> Outcome {
        let form = corpus.form("id-card-renewal").unwrap();
        let mut outcome = next_question(&form, start(&form, context, 1), "身份证换领", context);
        for answer in answers {
            outcome = turn(corpus, &form, outcome.form.unwrap(), context, answer);
        }
        outcome
    }

    fn value<'a>(outcome: &'a Outcome, field: &str) -> Option<&'a str> {
        outcome.form.as_ref()?.values.get(field).map(|v| v.value.as_str())
    }

    #[test]
    fn a_required_file_is_asked_for_then_attached_from_the_conversations_uploads() {
        let corpus = corpus();
        let guide = corpus.guide("housing-fund-withdrawal-rent").unwrap().clone();
        let material = guide
            .materials
            .iter()
            .find(|m| m.e_license.is_none())
            .unwrap()
            .name
            .clone();
        let form = Form {
            service_id: guide.id.clone(),
            fields: vec![corpus.form("id-card-renewal").unwrap().fields[2].clone()],
            uploads: vec![knowledge::forms::Upload {
                material: material.clone(),
                required: true,
                help: None,
            }],
        };
        let user = citizen();
        let context = Context::of(Some(&user));
        let outcome = next_question(&form, start(&form, &context, 1), &guide.title, &context);
        let outcome = turn(&corpus, &form, outcome.form.unwrap(), &context, "13912345678");
        assert!(
            outcome.text.contains("请上传") && outcome.text.contains(&material),
            "{}",
            outcome.text
        );
        let view = view(&form, outcome.form.as_ref().unwrap(), None);
        assert_eq!(view.uploads[0].status, "missing");
        let outcome = turn(&corpus, &form, outcome.form.unwrap(), &context, "跳过");
        assert!(outcome.text.contains("不能跳过"), "{}", outcome.text);
        let outcome = turn(&corpus, &form, outcome.form.unwrap(), &context, "已上传");
        assert!(outcome.text.contains("还没有收到文件"), "{}", outcome.text);
        // The file arrives with the next turn.
        let uploads = [crate::Attachment {
            id: "upl-1".into(),
            material: material.clone(),
            file_name: "合同.pdf".into(),
        }];
        let with_file = Context {
            user: Some(&user),
            uploads: &uploads,
        };
        let outcome = turn(&corpus, &form, outcome.form.unwrap(), &with_file, "已上传");
        assert!(
            outcome.text.contains("已收到") && outcome.text.contains("合同.pdf"),
            "{}",
            outcome.text
        );
        assert_eq!(
            outcome.form.as_ref().unwrap().phase,
            Phase::Confirming,
            "{}",
            outcome.text
        );
        let outcome = turn(&corpus, &form, outcome.form.unwrap(), &with_file, "确认提交");
        let Some(Effect::Submit(submission)) = outcome.effect else {
            panic!("no submission: {}", outcome.text);
        };
        assert_eq!(submission.uploads, ["upl-1"]);
        let line = submission.materials.iter().find(|m| m.name == material).unwrap();
        assert_eq!(
            (line.source.as_str(), line.upload_id.as_deref()),
            ("attached", Some("upl-1"))
        );
    }

    /// A form about two people: the other person's name and ID number, typed while asked,
    /// go to their fields, not over the applicant's own (and no refusal is shown).
    #[test]
    fn another_persons_name_and_id_fill_their_own_fields() {
        let corpus = corpus();
        let form = corpus.form("marriage-registration").unwrap();
        let user = citizen();
        let context = Context::of(Some(&user));
        let mut outcome = next_question(&form, start(&form, &context, 1), "结婚登记", &context);
        assert_eq!(outcome.form.as_ref().unwrap().awaiting.as_deref(), Some("partner_name"));
        for answer in ["对方叫王丽", OTHER_ID] {
            outcome = turn(&corpus, &form, outcome.form.unwrap(), &context, answer);
            assert!(!outcome.text.contains("不能修改"), "{answer}: {}", outcome.text);
        }
        assert_eq!(value(&outcome, "partner_name"), Some("王丽"), "{}", outcome.text);
        assert_eq!(value(&outcome, "partner_id_number"), Some(OTHER_ID));
        assert_eq!(value(&outcome, "name"), Some("张三"));
        assert_eq!(value(&outcome, "id_number"), Some(OWN_ID));
    }

    #[test]
    fn name_field_refuses_commands() {
        let corpus = corpus();
        let context = Context::anonymous();
        for command in ["在线办理", "确认提交", "继续办理", "好的", "没错"] {
            let outcome = fill(&corpus, &context, &[command]);
            assert_eq!(value(&outcome, "name"), None, "{command}: {}", outcome.text);
            assert_eq!(outcome.form.as_ref().unwrap().awaiting.as_deref(), Some("name"));
            assert!(outcome.text.contains("姓名"), "{}", outcome.text);
        }
        let outcome = fill(&corpus, &context, &["跳过"]);
        assert!(outcome.text.contains("必填"), "{}", outcome.text);
        let outcome = fill(&corpus, &context, &["在线办理", "王小明"]);
        assert_eq!(value(&outcome, "name"), Some("王小明"));
    }

    #[test]
    fn an_option_said_in_other_words_is_matched() {
        let corpus = corpus();
        let context = Context::anonymous();
        let before = ["王小明", OTHER_ID, "13912345678"];
        for (answer, option) in [
            ("寄到家里吧", "邮寄到家"),
            ("自己去拿", "窗口领取"),
            ("我到大厅自取", "窗口领取"),
            ("快递给我", "邮寄到家"),
            ("窗口领取", "窗口领取"),
        ] {
            let answers: Vec<&str> = before.iter().copied().chain([answer]).collect();
            let outcome = fill(&corpus, &context, &answers);
            assert_eq!(value(&outcome, "pickup"), Some(option), "{answer}: {}", outcome.text);
        }
    }

    #[test]
    fn a_refused_option_keeps_its_quick_replies() {
        let corpus = corpus();
        let outcome = fill(
            &corpus,
            &Context::anonymous(),
            &["王小明", OTHER_ID, "13912345678", "随便吧"],
        );
        assert_eq!(value(&outcome, "pickup"), None);
        assert_eq!(
            outcome.quick_replies,
            ["窗口领取", "邮寄到家", "取消"],
            "{}",
            outcome.text
        );
        assert!(outcome.text.contains("窗口领取、邮寄到家"), "{}", outcome.text);
    }

    #[test]
    fn a_yes_no_option_reads_negation() {
        let corpus = corpus();
        let form = corpus.form("restaurant-comprehensive-license").unwrap();
        let field = form.fields.iter().find(|f| f.name == "outdoor_sign").unwrap();
        let phrases = &corpus.phrases;
        assert_eq!(match_option(phrases, field, "不是").as_deref(), Some("否"));
        assert_eq!(match_option(phrases, field, "不设置").as_deref(), Some("否"));
        assert_eq!(match_option(phrases, field, "要的").as_deref(), Some("是"));
        assert_eq!(match_option(phrases, field, "还不知道"), None);
    }

    #[test]
    fn identity_fields_cannot_be_typed_over() {
        let corpus = corpus();
        let user = citizen();
        let context = Context::of(Some(&user));
        let opened = fill(&corpus, &context, &[]);
        assert_eq!(value(&opened, "name"), Some("张三"));
        assert_eq!(value(&opened, "id_number"), Some(OWN_ID));
        for attempt in ["名字是李四", &format!("身份证号改成{OTHER_ID}"), "姓名写错了"] {
            let outcome = fill(&corpus, &context, &[attempt]);
            assert_eq!(value(&outcome, "name"), Some("张三"), "{attempt}");
            assert_eq!(value(&outcome, "id_number"), Some(OWN_ID), "{attempt}");
            assert!(
                outcome
                    .text
                    .contains("姓名和身份证号来自您的登录身份，不能修改；如需为他人办理，请使用代办"),
                "{attempt}: {}",
                outcome.text
            );
        }
        // Saying the same value again is no attempt to change it.
        let outcome = fill(&corpus, &context, &["名字是张三"]);
        assert!(!outcome.text.contains("不能修改"), "{}", outcome.text);
    }

    #[test]
    fn a_draft_typed_anonymously_is_bound_to_the_identity_that_submits_it() {
        let corpus = corpus();
        let form = corpus.form("id-card-renewal").unwrap();
        let user = citizen();
        let typed = fill(
            &corpus,
            &Context::anonymous(),
            &["李四", OTHER_ID, "13912345678", "窗口领取", "跳过"],
        );
        let mut state = typed.form.clone().unwrap();
        assert_eq!(
            bind_identity(&form, &mut state, &user),
            Err(vec!["name".to_string(), "id_number".to_string()])
        );
        assert_eq!(state.values["name"].value, "李四", "left for the caller to decide");

        // A draft that agrees binds, and an empty identity field is filled.
        let mut agreeing = typed.form.clone().unwrap();
        agreeing.values.remove("id_number");
        agreeing.values.get_mut("name").unwrap().value = "张三".into();
        assert_eq!(bind_identity(&form, &mut agreeing, &user), Ok(()));
        assert_eq!(agreeing.values["id_number"].value, OWN_ID);

        // In the dialogue, “确认提交” after logging in corrects and asks again.
        let context = Context::of(Some(&user));
        let corrected = turn(&corpus, &form, typed.form.unwrap(), &context, "确认提交");
        assert!(corrected.effect.is_none());
        assert!(corrected.text.contains("与登录身份不一致"), "{}", corrected.text);
        assert_eq!(value(&corrected, "name"), Some("张三"));
        let submitted = turn(&corpus, &form, corrected.form.unwrap(), &context, "确认提交");
        match submitted.effect {
            Some(Effect::Submit(submission)) => {
                assert_eq!(submission.fields["name"], "张三");
                assert_eq!(submission.fields["id_number"], OWN_ID);
            }
            other => panic!("{other:?}"),
        }
    }
}
