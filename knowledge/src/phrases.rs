//! The word lists the dialogue reads people's answers with (`phrases.toml`): levels of a
//! rating, urgency, yes and no, the negators and degree words around them, the words of a
//! choice's options, and "my complaint is resolved". Data, so an operator fixes a missed
//! phrasing without a release; the reader that uses them lives in `bot`.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use serde::Deserialize;

/// The shipped file, compiled in: the default when a knowledge folder has no `phrases.toml`,
/// so the lists exist once.
const BUILTIN: &str = include_str!("../data/phrases.toml");

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phrases {
    pub modifiers: Modifiers,
    pub rating: RatingPhrases,
    pub urgency: UrgencyPhrases,
    #[serde(default)]
    pub options: OptionPhrases,
    pub resolved: ResolvedPhrases,
    /// The city's own text; a file without it gets the shipped one.
    #[serde(default)]
    pub assistant: Option<Assistant>,
    /// Ordinal words; a file without them gets the shipped ones.
    #[serde(default)]
    pub ordinals: Vec<Ordinal>,
    /// The named word lists the dialogue's rules read (`[words]`, keys in [`WORD_LISTS`]); a
    /// file that leaves a list out gets the shipped one.
    #[serde(default)]
    pub words: BTreeMap<String, Vec<String>>,
}

/// Every list of `[words]`: its key and what it is for. The keys the code reads are the
/// constants of [`lists`]; a key not here is a typo and the loader says so.
pub const WORD_LISTS: &[(&str, &str)] = &[
    (
        lists::ABBREVIATIONS,
        "short forms written out in full for 长辈版 replies, as short=full",
    ),
    (lists::APPLY, "asking to do the thing online, not just to know about it"),
    (lists::RESUME, "going on with a form left half-filled"),
    (
        lists::BUNDLE,
        "asking for everything at once: the 一件事 bundle or the combined licence",
    ),
    (lists::ON_BEHALF, "applying for someone else (代办)"),
    (lists::FORM_CANCEL, "leaving a form"),
    (lists::FORM_YES, "confirming a form's summary"),
    (lists::FORM_SKIP, "skipping an optional field"),
    (lists::FORM_CORRECTION, "correcting a field already given"),
    (lists::FOCUS_FULL, "asking for the whole guide"),
    (lists::FOCUS_MATERIALS, "asking what to bring"),
    (lists::FOCUS_FEES, "asking what it costs"),
    (lists::FOCUS_TIME, "asking how long it takes or when"),
    (lists::FOCUS_ONLINE, "asking whether it can be done online"),
    (lists::FOCUS_WHERE, "asking where to go"),
    (lists::FOCUS_CONDITIONS, "asking who may apply"),
    (
        lists::FOCUS_CROSS_PROVINCE,
        "asking about another place's household or another province",
    ),
    (lists::FOCUS_STEPS, "asking how it is done, step by step"),
    (lists::HUMAN, "asking for a human agent"),
    (lists::RATING, "words of the 好差评 rating"),
    (
        lists::VERDICTS,
        "a verdict of the rating scale, whatever else the message says",
    ),
    (lists::STATUS_WHAT, "asking about progress"),
    (lists::STATUS_MINE, "about one's own application or complaint"),
    (
        lists::COMPLAINT_STRONG,
        "words that alone say “I want to complain or report”",
    ),
    (
        lists::COMPLAINT_WEAK,
        "words that suggest a problem to report when no guide answers",
    ),
    (lists::CHITCHAT, "greetings, thanks and small talk"),
    (lists::YOU, "addressing the assistant"),
    (lists::WHAT_ARE_YOU, "asking what the assistant is"),
    (lists::ASK_FOR_SOMEONE, "asking to be put through to someone"),
    (lists::ASKS_HOW_TO_GET, "asking how to get or do something"),
    (
        lists::DOCUMENT_SUFFIXES,
        "endings of the names of documents and licences",
    ),
    (lists::DOCUMENT_ENDINGS, "endings of words that name a document"),
    (
        lists::NAME_BREAKS,
        "characters that end a name read backwards (verbs, particles, quantifiers)",
    ),
    (
        lists::SERVICE_VERBS,
        "verbs that name a service when they follow its object",
    ),
    (lists::ADVERBS, "adverbs that can stand where an object would"),
    (
        lists::QUESTION_FILLERS,
        "question words between an object and its verb, longest first",
    ),
    (lists::LOST, "saying a document was lost"),
    (
        lists::LOST_OFFERS,
        "what a guide says where it replaces a lost document",
    ),
    (lists::CHANGE_ASKS, "asking to change a record"),
    (lists::CHANGE_OFFERS, "what a guide says where it changes a record"),
    (lists::FREEZE_ASKS, "asking to freeze or unfreeze"),
    (lists::FREEZE_OFFERS, "what a guide says where it freezes or unfreezes"),
    (
        lists::CONJUNCTIONS,
        "words that join the services of a list (上户口和办医保)",
    ),
    (lists::APPOINTMENT, "asking to book a visit to a service window (预约)"),
    (lists::APPOINTMENT_CANCEL, "cancelling one's appointment"),
    (lists::APPOINTMENT_MOVE, "moving one's appointment to another time"),
    (lists::APPOINTMENT_MINE, "asking which appointments one has"),
    (
        lists::CORRECTION,
        "answering a 补正 request: providing what an application lacks",
    ),
    (lists::RESUBMIT, "sending a corrected application back"),
];

/// The keys of `[words]`.
pub mod lists {
    pub const APPLY: &str = "apply";
    pub const RESUME: &str = "resume";
    pub const BUNDLE: &str = "bundle";
    pub const ON_BEHALF: &str = "on_behalf";
    pub const FORM_CANCEL: &str = "form_cancel";
    pub const FORM_YES: &str = "form_yes";
    pub const FORM_SKIP: &str = "form_skip";
    pub const FORM_CORRECTION: &str = "form_correction";
    pub const FOCUS_FULL: &str = "focus_full";
    pub const FOCUS_MATERIALS: &str = "focus_materials";
    pub const FOCUS_FEES: &str = "focus_fees";
    pub const FOCUS_TIME: &str = "focus_time";
    pub const FOCUS_ONLINE: &str = "focus_online";
    pub const FOCUS_WHERE: &str = "focus_where";
    pub const FOCUS_CONDITIONS: &str = "focus_conditions";
    pub const FOCUS_CROSS_PROVINCE: &str = "focus_cross_province";
    pub const FOCUS_STEPS: &str = "focus_steps";
    pub const HUMAN: &str = "human";
    pub const RATING: &str = "rating";
    pub const VERDICTS: &str = "verdicts";
    pub const STATUS_WHAT: &str = "status_what";
    pub const STATUS_MINE: &str = "status_mine";
    pub const COMPLAINT_STRONG: &str = "complaint_strong";
    pub const COMPLAINT_WEAK: &str = "complaint_weak";
    pub const CHITCHAT: &str = "chitchat";
    pub const YOU: &str = "you";
    pub const WHAT_ARE_YOU: &str = "what_are_you";
    pub const ASK_FOR_SOMEONE: &str = "ask_for_someone";
    pub const ASKS_HOW_TO_GET: &str = "asks_how_to_get";
    pub const DOCUMENT_SUFFIXES: &str = "document_suffixes";
    pub const DOCUMENT_ENDINGS: &str = "document_endings";
    pub const NAME_BREAKS: &str = "name_breaks";
    pub const SERVICE_VERBS: &str = "service_verbs";
    pub const ADVERBS: &str = "adverbs";
    pub const QUESTION_FILLERS: &str = "question_fillers";
    pub const LOST: &str = "lost";
    pub const LOST_OFFERS: &str = "lost_offers";
    pub const CHANGE_ASKS: &str = "change_asks";
    pub const CHANGE_OFFERS: &str = "change_offers";
    pub const FREEZE_ASKS: &str = "freeze_asks";
    pub const FREEZE_OFFERS: &str = "freeze_offers";
    pub const CONJUNCTIONS: &str = "conjunctions";
    pub const ABBREVIATIONS: &str = "abbreviations";
    pub const APPOINTMENT: &str = "appointment";
    pub const APPOINTMENT_CANCEL: &str = "appointment_cancel";
    pub const APPOINTMENT_MOVE: &str = "appointment_move";
    pub const APPOINTMENT_MINE: &str = "appointment_mine";
    pub const CORRECTION: &str = "correction";
    pub const RESUBMIT: &str = "resubmit";
}

/// What is particular to the city running the assistant.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assistant {
    /// The city's name, as answers say it (一般需在示范市办理).
    pub city: String,
    /// The answer to a greeting or to “what can you do”.
    pub greeting: String,
    /// Quick replies offered with the greeting.
    #[serde(default)]
    pub suggestions: Vec<String>,
    /// The department (departments.toml) whose hotline answers are given.
    pub hotline_department: String,
    /// A place of the city, shown when a complaint's place is too vague.
    pub address_example: String,
}

/// Words that pick the option at `place` (from 1; 0 is the last one).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ordinal {
    pub place: usize,
    pub words: Vec<String>,
}

/// Words that change the word after (or, for suffixes, before) them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Modifiers {
    pub negators: Vec<String>,
    pub strong: Vec<String>,
    pub mild: Vec<String>,
    pub hedges: Vec<String>,
    pub emphatic_suffixes: Vec<String>,
    pub fillers: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingPhrases {
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Words around a verdict that add nothing to the reason (给个, 我要, 吧).
    #[serde(default)]
    pub frame: Vec<String>,
    pub words: Vec<LevelWords>,
    #[serde(default)]
    pub tags: Vec<TagCues>,
}

/// Words of one level (1 非常不满意 … 5 非常满意).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelWords {
    pub level: i64,
    /// A word of the rating scale itself (满意, 差评), which outranks a describing word.
    #[serde(default)]
    pub verdict: bool,
    pub words: Vec<String>,
}

/// A tag of a bad rating and the words that name it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagCues {
    pub tag: String,
    pub cues: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrgencyPhrases {
    pub urgent: Vec<String>,
    pub calm: Vec<String>,
    pub yes: Vec<String>,
    pub no: Vec<String>,
    /// Answers that say the citizen does not know (asked again, never guessed).
    #[serde(default)]
    pub unsure: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionPhrases {
    /// Groups of words meaning the same; the first stands for the group.
    #[serde(default)]
    pub synonyms: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolvedPhrases {
    pub cues: Vec<String>,
    pub subjects: Vec<String>,
    /// Right after the word, they make it a question (解决了吗).
    pub questions: Vec<String>,
    /// Anywhere in the message, they make it a question (怎么领).
    #[serde(default)]
    pub asking: Vec<String>,
}

static BUILTIN_PHRASES: LazyLock<Phrases> = LazyLock::new(|| Phrases::parse(BUILTIN).unwrap_or_default());

impl Phrases {
    /// The lists shipped with the crate (a test keeps them valid).
    pub fn builtin() -> &'static Phrases {
        &BUILTIN_PHRASES
    }

    /// The city's text: this file's, or the shipped one.
    pub fn assistant(&self) -> &Assistant {
        static EMPTY: LazyLock<Assistant> = LazyLock::new(Assistant::default);
        self.assistant
            .as_ref()
            .or(BUILTIN_PHRASES.assistant.as_ref())
            .unwrap_or(&EMPTY)
    }

    /// The ordinal words: this file's, or the shipped ones.
    pub fn ordinals(&self) -> &[Ordinal] {
        if self.ordinals.is_empty() {
            &BUILTIN_PHRASES.ordinals
        } else {
            &self.ordinals
        }
    }

    /// The list `key` of `[words]` (a constant of [`lists`]): this file's, or the shipped one.
    pub fn words(&self, key: &str) -> &[String] {
        self.words
            .get(key)
            .or_else(|| BUILTIN_PHRASES.words.get(key))
            .map_or(&[], Vec::as_slice)
    }

    /// Parses and validates the file's text; every problem as (line, reason).
    pub fn parse(text: &str) -> Result<Phrases, Vec<(usize, String)>> {
        let phrases: Phrases = toml::from_str(text).map_err(|err| {
            let line = err
                .span()
                .map(|s| text[..s.start].matches('\n').count() + 1)
                .unwrap_or(1);
            vec![(line, format!("格式错误：{}", err.message()))]
        })?;
        let problems = phrases.check(text);
        if problems.is_empty() {
            Ok(phrases)
        } else {
            Err(problems)
        }
    }

    fn check(&self, text: &str) -> Vec<(usize, String)> {
        let line_of = |needle: &str| {
            let quoted = format!("\"{needle}\"");
            text.lines().position(|l| l.contains(&quoted)).map_or(1, |i| i + 1)
        };
        let mut problems = Vec::new();
        let mut lists: Vec<(&str, &Vec<String>)> = vec![
            ("negators", &self.modifiers.negators),
            ("strong", &self.modifiers.strong),
            ("mild", &self.modifiers.mild),
            ("hedges", &self.modifiers.hedges),
            ("emphatic_suffixes", &self.modifiers.emphatic_suffixes),
            ("urgent", &self.urgency.urgent),
            ("calm", &self.urgency.calm),
            ("yes", &self.urgency.yes),
            ("no", &self.urgency.no),
            ("cues", &self.resolved.cues),
            ("subjects", &self.resolved.subjects),
        ];
        lists.extend(self.rating.words.iter().map(|w| ("words", &w.words)));
        lists.extend(self.ordinals.iter().map(|o| ("ordinals.words", &o.words)));
        if let Some(assistant) = &self.assistant {
            for (key, value) in [
                ("city", &assistant.city),
                ("greeting", &assistant.greeting),
                ("hotline_department", &assistant.hotline_department),
                ("address_example", &assistant.address_example),
            ] {
                if value.trim().is_empty() {
                    let line = text
                        .lines()
                        .position(|l| l.trim_start().starts_with(key))
                        .map_or(1, |i| i + 1);
                    problems.push((line, format!("assistant.{key} 不能为空")));
                }
            }
        }
        let mut places = Vec::new();
        for ordinal in &self.ordinals {
            if places.contains(&ordinal.place) {
                let needle = format!("place = {}", ordinal.place);
                let line = text.lines().position(|l| l.contains(&needle)).map_or(1, |i| i + 1);
                problems.push((line, format!("序号 {} 重复", ordinal.place)));
            }
            places.push(ordinal.place);
        }
        lists.extend(self.rating.tags.iter().map(|t| ("cues", &t.cues)));
        for (key, list) in &self.words {
            if !WORD_LISTS.iter().any(|(known, _)| known == key) {
                let needle = format!("{key} =");
                let line = text
                    .lines()
                    .position(|l| l.trim_start().starts_with(&needle))
                    .map_or(1, |i| i + 1);
                problems.push((line, format!("[words] 中没有名为 {key} 的列表（可能拼错了）")));
            }
            lists.push((key.as_str(), list));
        }
        for (name, list) in &lists {
            if list.is_empty() {
                problems.push((1, format!("列表 {name} 不能为空")));
            }
            for word in list.iter() {
                if word.trim().is_empty() {
                    problems.push((line_of(word), format!("列表 {name} 中有空词")));
                } else if word.to_lowercase() != *word {
                    // Matching is on lowercased text: an uppercase word would never match.
                    problems.push((line_of(word), format!("“{word}” 应为小写")));
                }
            }
        }
        for filler in &self.modifiers.fillers {
            if filler.is_empty() {
                problems.push((line_of(filler), "fillers 中有空词".into()));
            }
        }
        // One word, one level: a word under two levels would read as whichever comes first.
        let mut levels: HashMap<&str, i64> = HashMap::new();
        for entry in &self.rating.words {
            if !(1..=5).contains(&entry.level) {
                let needle = format!("level = {}", entry.level);
                let line = text.lines().position(|l| l.contains(&needle)).map_or(1, |i| i + 1);
                problems.push((line, format!("评价等级 {} 应在 1 到 5 之间", entry.level)));
            }
            for word in &entry.words {
                if let Some(other) = levels.insert(word, entry.level) {
                    problems.push((
                        line_of(word),
                        format!("“{word}” 同时列在等级 {other} 和 {}", entry.level),
                    ));
                }
            }
        }
        let opposite = |a: &[String], b: &[String], what: &str, problems: &mut Vec<(usize, String)>| {
            for word in a.iter().filter(|w| b.contains(w)) {
                problems.push((line_of(word), format!("“{word}” 同时列在{what}")));
            }
        };
        opposite(
            &self.urgency.urgent,
            &self.urgency.calm,
            "urgent 和 calm",
            &mut problems,
        );
        opposite(&self.urgency.yes, &self.urgency.no, "yes 和 no", &mut problems);
        let mut tags = Vec::new();
        for entry in &self.rating.tags {
            if entry.tag.trim().is_empty() || tags.contains(&entry.tag.as_str()) {
                problems.push((line_of(&entry.tag), format!("标签 “{}” 为空或重复", entry.tag)));
            }
            tags.push(entry.tag.as_str());
        }
        for group in &self.options.synonyms {
            if group.len() < 2 || group.iter().any(|w| w.trim().is_empty()) {
                problems.push((
                    line_of(group.first().map_or("", String::as_str)),
                    "同义词组至少要有两个非空的词".into(),
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_phrases_are_valid() {
        let parsed = Phrases::parse(BUILTIN);
        assert!(parsed.is_ok(), "{parsed:?}");
        assert!(!Phrases::builtin().rating.words.is_empty());
    }

    #[test]
    fn every_word_list_is_shipped_and_a_city_may_replace_one() {
        for (key, _) in WORD_LISTS {
            assert!(
                !Phrases::builtin().words(key).is_empty(),
                "[words] {key} is not shipped"
            );
        }
        let text = format!("{BUILTIN}\n").replacen("[words]\n", "[words]\nform_cancel = [\"不弄了\"]\n", 1);
        let text = remove_line_starting(&text, "form_cancel = [\"取消\"");
        let own = Phrases::parse(&text).unwrap();
        assert_eq!(own.words(lists::FORM_CANCEL), ["不弄了"]);
        assert_eq!(own.words(lists::FORM_SKIP), Phrases::builtin().words(lists::FORM_SKIP));
    }

    fn remove_line_starting(text: &str, start: &str) -> String {
        text.lines()
            .filter(|l| !l.starts_with(start))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    #[test]
    fn a_misspelt_word_list_is_reported_with_its_line() {
        let text = BUILTIN.replacen("[words]\n", "[words]\nfrom_cancel = [\"不弄了\"]\n", 1);
        let problems = Phrases::parse(&text).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|(line, reason)| *line > 1 && reason.contains("from_cancel")),
            "{problems:?}"
        );
        let empty = BUILTIN.replacen("[words]\n", "[words]\nhuman_extra = []\nresume2 = [\"\"]\n", 1);
        assert!(Phrases::parse(&empty).is_err());
    }

    #[test]
    fn a_word_under_two_levels_is_reported_with_its_line() {
        let text = BUILTIN.replacen("words = [\"中评\"", "words = [\"差评\", \"中评\"", 1);
        let problems = Phrases::parse(&text).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|(line, reason)| *line > 1 && reason.contains("差评")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_level_out_of_range_is_an_error() {
        let text = BUILTIN.replacen("level = 3", "level = 7", 1);
        let problems = Phrases::parse(&text).unwrap_err();
        assert!(problems.iter().any(|(_, r)| r.contains("1 到 5")), "{problems:?}");
    }
}
