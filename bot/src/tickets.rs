//! 12345 intake in conversation: what happened, where, when, how to reach the citizen (or
//! anonymously), how urgent; a confirmation; then the caller creates the ticket. Also the
//! router that picks a ticket's category from its text, and rating in conversation (好差评).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

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

/// Level from a reply (“非常满意”, “差评”, “5星”, “3”).
pub fn level_of(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.contains("非常不满意") || text.contains("很不满意") || text.contains("一星") || text.contains("1星")
    {
        return Some(1);
    }
    if text.contains("不满意") || text.contains("差评") || text.contains("两星") || text.contains("2星") {
        return Some(2);
    }
    if text.contains("基本满意") || text.contains("一般") || text.contains("中评") || text.contains("3星") {
        return Some(3);
    }
    if text.contains("非常满意") || text.contains("五星") || text.contains("5星") || text.contains("很满意") {
        return Some(5);
    }
    if text.contains("满意") || text.contains("好评") || text.contains("4星") {
        return Some(4);
    }
    match text {
        "1" => Some(1),
        "2" => Some(2),
        "3" => Some(3),
        "4" => Some(4),
        "5" => Some(5),
        _ => None,
    }
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
pub fn turn(mut draft: TicketDraft, message: &str, logged_in: bool) -> IntakeOutcome {
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
                outcome.text = format!("请说得具体一些，例如“滨江区江滨路12号小区东门”。{}", outcome.text);
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
        Some("urgent") => draft.urgent = Some(text.starts_with('是') || text.contains("紧急") || text.contains("急")),
        _ => {}
    }
    next(draft, logged_in)
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
        "请核对诉求信息：\n· 类型：{}\n· 问题：{}\n· 地点：{}\n· 时间：{}\n· 联系方式：{}\n· 紧急：{}\n确认无误请回复“确认”，要补充请直接说明。",
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

    #[test]
    fn intake_collects_everything_then_asks_to_confirm() {
        let mut outcome = start("楼下烧烤店每天半夜油烟很大", true);
        assert_eq!(outcome.draft.as_ref().unwrap().awaiting.as_deref(), Some("location"));
        for answer in ["滨江区江滨路12号", "每天晚上", "13912345678", "否"] {
            outcome = turn(outcome.draft.unwrap(), answer, true);
        }
        assert!(outcome.draft.as_ref().unwrap().confirming, "{}", outcome.text);
        let done = turn(outcome.draft.unwrap(), "确认", true);
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
