//! Answer composition: a short answer to what was asked first, then the essentials of the
//! guide, every fact with a numbered citation. Only the guide's own words and numbers are
//! used: nothing is invented, and a section the guide lacks is not mentioned.

use knowledge::phrases::lists;
use knowledge::{Corpus, Guide, GuideKind, Phrases};

use crate::Citation;

/// What the question is mainly about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Materials,
    Time,
    Fees,
    Where,
    Online,
    Conditions,
    Steps,
    CrossProvince,
    /// The whole guide, asked for explicitly (“完整办事指南”).
    Full,
    General,
}

/// Each focus by its list of `phrases.toml` `[words]`, in the order they are tried.
const FOCUS_LISTS: &[(Focus, &str)] = &[
    (Focus::Full, lists::FOCUS_FULL),
    (Focus::Materials, lists::FOCUS_MATERIALS),
    (Focus::Fees, lists::FOCUS_FEES),
    (Focus::Time, lists::FOCUS_TIME),
    (Focus::Online, lists::FOCUS_ONLINE),
    (Focus::Where, lists::FOCUS_WHERE),
    (Focus::Conditions, lists::FOCUS_CONDITIONS),
    (Focus::CrossProvince, lists::FOCUS_CROSS_PROVINCE),
    (Focus::Steps, lists::FOCUS_STEPS),
];

impl Focus {
    pub fn detect(words: &Phrases, text: &str) -> Focus {
        let text = index::normalize(text);
        FOCUS_LISTS
            .iter()
            .find(|(_, list)| words.words(list).iter().any(|w| text.contains(w.as_str())))
            .map_or(Focus::General, |(focus, _)| *focus)
    }

    /// Whether the message is nothing but a follow-up question (“那要带哪些材料？”): once the
    /// focus words and fillers are gone, at most a few characters are left.
    pub fn is_bare_follow_up(words: &Phrases, text: &str) -> bool {
        let mut rest = index::normalize(text);
        if Focus::detect(words, &rest) == Focus::General {
            return false;
        }
        for (_, list) in FOCUS_LISTS {
            for word in words.words(list) {
                rest = rest.replace(word.as_str(), "");
            }
        }
        let left = rest
            .chars()
            .filter(|c| {
                c.is_alphanumeric()
                    && !"那这个要带些哪么什啥呢吗呀啊的了我你还都得需请问一下办理可以能是有多少".contains(*c)
            })
            .count();
        left <= 3
    }
}

/// A reply body being built, with numbered citations.
struct Composer<'a> {
    guide: &'a Guide,
    text: String,
    citations: Vec<Citation>,
}

impl<'a> Composer<'a> {
    /// An empty answer about `guide`, and the name of the department that handles it.
    fn start(corpus: &'a Corpus, guide: &'a Guide) -> (Composer<'a>, &'a str) {
        let department = corpus
            .department(&guide.department)
            .map_or(guide.department.as_str(), |d| d.name.as_str());
        let composer = Composer {
            guide,
            text: String::new(),
            citations: Vec::new(),
        };
        (composer, department)
    }

    /// Appends a paragraph and cites it: "… [n]".
    fn cite(&mut self, section: &str, paragraph: String) {
        let existing = self.citations.iter().position(|c| c.section == section);
        let number = match existing {
            Some(i) => i + 1,
            None => {
                self.citations.push(Citation {
                    guide_id: self.guide.id.clone(),
                    section: section.to_string(),
                });
                self.citations.len()
            }
        };
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(&paragraph);
        self.text.push_str(&format!(" [{number}]"));
    }
}

/// What the quick reply for the whole guide says.
pub const FULL_GUIDE: &str = "完整办事指南";

/// An answer sized to the question: what was asked (the FAQ answer that fits, or the asked
/// section; for a general question the summary and the key facts: time, fee, where), then one
/// line of what else will be needed, each cited. The whole guide only when asked for.
pub fn answer(corpus: &Corpus, guide: &Guide, focus: Focus, faq: Option<usize>) -> (String, Vec<Citation>) {
    let (mut composer, department) = Composer::start(corpus, guide);
    composer.text.push_str(&format!("【{}】{}", guide.title, department));
    composer.text.push('\n');
    if focus == Focus::Full {
        full(&mut composer, corpus);
    } else {
        if let Some(i) = faq {
            let item = &guide.faq[i];
            composer.cite(&format!("faq:{}", i + 1), format!("问：{}\n答：{}", item.q, item.a));
        } else if focus == Focus::General || focus == Focus::Steps && guide.steps.is_empty() {
            composer.cite("summary", guide.summary.trim().to_string());
        }
        match focus {
            Focus::General if faq.is_none() => key_facts(&mut composer),
            Focus::General => {}
            asked => section(&mut composer, corpus, asked),
        }
        if focus != Focus::Materials {
            materials_line(&mut composer);
        }
    }
    composer.text.push_str(&format!(
        "\n（来源：《{}》办事指南，{} 更新）",
        guide.title, guide.reviewed
    ));
    (composer.text, composer.citations)
}

/// Whether a message is written in English (most of its letters are Latin).
pub fn is_english(message: &str) -> bool {
    let latin = message.chars().filter(|c| c.is_ascii_alphabetic()).count();
    let han = message
        .chars()
        .filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
        .count();
    latin >= 6 && latin > han * 3
}

/// An English frame for an English question: the guide's English summary (the Chinese one
/// when it has none, said so), then what was asked with English labels and the official
/// Chinese terms as the guide gives them, each cited.
pub fn answer_en(corpus: &Corpus, guide: &Guide, focus: Focus) -> (String, Vec<Citation>) {
    let (mut composer, department) = Composer::start(corpus, guide);
    composer
        .text
        .push_str(&format!("[{}] Handled by: {}\n", guide.title, department));
    match &guide.summary_en {
        Some(summary) => composer.cite("summary", summary.trim().to_string()),
        None => composer.cite("summary", format!("Summary (in Chinese): {}", guide.summary.trim())),
    }
    let limit = &guide.time_limit;
    let time = if limit.promised_days == 0 {
        "Time limit (办理时限): done on the spot (即办).".to_string()
    } else {
        format!("Time limit (办理时限): {} working days.", limit.promised_days)
    };
    let fees = if guide.is_free() {
        "Fee (收费): free.".to_string()
    } else {
        let items: Vec<String> = guide.fees.iter().map(|f| format!("{} {}", f.item, f.amount)).collect();
        format!("Fee (收费): {}.", items.join("; "))
    };
    let online = !guide.channels.online.is_empty();
    let hall = guide.channels.halls.first();
    let place = match (online, hall) {
        (true, Some(hall)) => Some(format!(
            "Where (办理地点): online, or in person at {} ({}, {}).",
            hall.name, hall.address, hall.hours
        )),
        (true, None) => Some("Where (办理地点): online.".to_string()),
        (false, Some(hall)) => Some(format!(
            "Where (办理地点): {} ({}, {}).",
            hall.name, hall.address, hall.hours
        )),
        (false, None) => None,
    };
    let materials: Vec<&str> = guide.materials.iter().map(|m| m.name.as_str()).collect();
    let materials_text = format!(
        "Documents (所需材料), {} in all; some apply only in certain cases: {}.",
        materials.len(),
        materials.join("; ")
    );
    match focus {
        Focus::Materials => composer.cite("materials", materials_text.clone()),
        Focus::Fees => composer.cite("fees", fees.clone()),
        Focus::Time => composer.cite("time_limit", time.clone()),
        Focus::Where | Focus::Online => {
            if let Some(place) = &place {
                composer.cite("channels", place.clone());
            }
        }
        Focus::Steps | Focus::Full if !guide.steps.is_empty() => {
            composer.cite("steps", format!("Steps (办理流程):\n{}", numbered(&guide.steps)))
        }
        Focus::Conditions if !guide.conditions.is_empty() => composer.cite(
            "conditions",
            format!("Who can apply (办理条件):\n{}", numbered(&guide.conditions)),
        ),
        _ => {}
    }
    if focus == Focus::General || focus == Focus::Full {
        composer.cite("time_limit", time);
        if guide.is_free() || focus == Focus::Full {
            composer.cite("fees", fees);
        }
        if let Some(place) = place {
            composer.cite("channels", place);
        }
    }
    if focus != Focus::Materials && !materials.is_empty() {
        composer.cite("materials", materials_text);
    }
    composer.text.push_str(&format!(
        "\n(Source: the service guide 《{}》, updated {}. Details are in Chinese; ask “完整办事指南” for the whole guide.)",
        guide.title, guide.reviewed
    ));
    (composer.text, composer.citations)
}

/// Every section, for “完整办事指南”.
fn full(composer: &mut Composer<'_>, corpus: &Corpus) {
    let guide = composer.guide;
    composer.cite("summary", guide.summary.trim().to_string());
    for essential in [
        Focus::Conditions,
        Focus::Materials,
        Focus::Steps,
        Focus::Time,
        Focus::Fees,
        Focus::Where,
    ] {
        section(composer, corpus, essential);
    }
    if guide.cross_province {
        section(composer, corpus, Focus::CrossProvince);
    }
}

/// Time, fee and where in one short paragraph each.
fn key_facts(composer: &mut Composer<'_>) {
    let guide = composer.guide;
    let limit = &guide.time_limit;
    composer.cite(
        "time_limit",
        if limit.promised_days == 0 {
            "办理时限：即办（当场办结）".to_string()
        } else {
            format!("办理时限：承诺 {} 个工作日", limit.promised_days)
        },
    );
    if guide.is_free() {
        composer.cite("fees", "收费：免费".to_string());
    }
    let online = !guide.channels.online.is_empty();
    let hall = guide.channels.halls.first().map(|h| h.name.clone());
    let place = match (online, hall) {
        (true, Some(hall)) => format!("办理地点：可网上办理，也可到{hall}"),
        (true, None) => "办理地点：可网上办理".to_string(),
        (false, Some(hall)) => format!("办理地点：{hall}"),
        (false, None) => return,
    };
    composer.cite("channels", place);
}

/// The materials in one line, by name only: which ones apply to whom, and how many copies,
/// is in the materials answer (several apply only in some cases, so the line says so).
fn materials_line(composer: &mut Composer<'_>) {
    let guide = composer.guide;
    if guide.materials.is_empty() {
        return;
    }
    let names: Vec<&str> = guide.materials.iter().map(|m| m.name.as_str()).collect();
    let n_exempt = guide.materials.iter().filter(|m| m.e_license.is_some()).count();
    let exempt = if n_exempt > 0 {
        format!("，其中 {n_exempt} 项有电子证照的免于提交")
    } else {
        String::new()
    };
    composer.cite(
        "materials",
        format!(
            "材料：{}，共 {} 项{exempt}。回复“需要哪些材料”查看每项的份数和适用情形。",
            names.join("、"),
            names.len()
        ),
    );
}

fn section(composer: &mut Composer<'_>, corpus: &Corpus, focus: Focus) {
    let guide = composer.guide;
    match focus {
        Focus::Conditions if !guide.conditions.is_empty() => {
            composer.cite("conditions", format!("办理条件：\n{}", numbered(&guide.conditions)));
        }
        Focus::Materials => materials(composer, corpus),
        Focus::Steps if !guide.steps.is_empty() => {
            let mut text = format!("办理流程：\n{}", numbered(&guide.steps));
            if guide.kind != GuideKind::Service && !guide.members.is_empty() {
                let titles: Vec<String> = guide
                    .members
                    .iter()
                    .map(|id| corpus.guide(id).map_or(id.clone(), |g| g.title.clone()))
                    .collect();
                text.push_str(&format!("\n{}包含：{}", guide.kind.label(), titles.join("、")));
            }
            composer.cite("steps", text);
        }
        Focus::Time => {
            let limit = &guide.time_limit;
            let promised = if limit.promised_days == 0 {
                "即办（当场办结）".to_string()
            } else {
                format!("承诺 {} 个工作日办结", limit.promised_days)
            };
            let mut text = format!("办理时限：{promised}（法定时限 {} 个工作日）", limit.legal_days);
            if let Some(note) = &limit.note {
                text.push_str(&format!("；{note}"));
            }
            composer.cite("time_limit", text);
        }
        Focus::Fees => {
            let text = if guide.is_free() && guide.fees.iter().all(|f| f.note.is_none()) {
                "收费：免费".to_string()
            } else {
                let items: Vec<String> = guide
                    .fees
                    .iter()
                    .map(|f| match &f.note {
                        Some(note) => format!("{} {}（{}）", f.item, f.amount, note),
                        None => format!("{} {}", f.item, f.amount),
                    })
                    .collect();
                format!("收费：{}", items.join("；"))
            };
            composer.cite("fees", text);
        }
        Focus::Where | Focus::Online => {
            let mut lines = Vec::new();
            let online: Vec<String> = guide
                .channels
                .online
                .iter()
                .map(|o| format!("{}（{}）", o.name, o.url))
                .collect();
            if !online.is_empty() {
                lines.push(format!("网上办理：{}", online.join("；")));
            } else if focus == Focus::Online {
                lines.push("网上办理：指南未列出网上办理入口，请到窗口办理。".to_string());
            }
            for hall in &guide.channels.halls {
                let phone = hall.phone.as_ref().map(|p| format!("，电话 {p}")).unwrap_or_default();
                lines.push(format!(
                    "窗口办理：{}，{}，{}{}",
                    hall.name, hall.address, hall.hours, phone
                ));
            }
            if !lines.is_empty() {
                composer.cite("channels", format!("办理渠道：\n{}", lines.join("\n")));
            }
        }
        Focus::CrossProvince => {
            let text = if guide.cross_province {
                "本事项已实现跨省通办：外地户籍或身在外地也可以办理。".to_string()
            } else {
                format!(
                    "本事项指南未列为跨省通办，一般需在{}办理。",
                    corpus.phrases.assistant().city
                )
            };
            composer.cite("cross_province", text);
        }
        Focus::General | Focus::Full | Focus::Conditions | Focus::Steps => {}
    }
}

fn materials(composer: &mut Composer<'_>, corpus: &Corpus) {
    let guide = composer.guide;
    if guide.materials.is_empty() {
        return;
    }
    let mut lines = Vec::new();
    let mut n_exempt = 0;
    for (i, material) in guide.materials.iter().enumerate() {
        let mut line = format!(
            "{}. {}（{} {} 份）",
            i + 1,
            material.name,
            material.form,
            material.count
        );
        if let Some(kind) = &material.e_license {
            n_exempt += 1;
            let name = corpus.e_license(kind).map_or(kind.as_str(), |e| e.name.as_str());
            line.push_str(&format!("——已有{name}电子证照的免于提交"));
        }
        if let Some(note) = &material.note {
            line.push_str(&format!("；{note}"));
        }
        lines.push(line);
    }
    let mut text = format!("所需材料：\n{}", lines.join("\n"));
    if n_exempt > 0 {
        text.push_str(&format!("\n其中 {n_exempt} 项可通过电子证照调取，免于提交纸质材料。"));
    }
    composer.cite("materials", text);
}

fn numbered(items: &[String]) -> String {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| format!("{}. {}", i + 1, item))
        .collect::<Vec<_>>()
        .join("\n")
}
