//! Intents, first by rules on the words of the message. Retrieval then decides between
//! `service` and `out_of_scope` for what the rules leave open (see `dialogue`).

use knowledge::Phrases;
use knowledge::phrases::lists;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    Service,
    Complaint,
    Status,
    Rating,
    Human,
    Chitchat,
    OutOfScope,
}

impl Intent {
    pub const ALL: [Intent; 7] = [
        Intent::Service,
        Intent::Complaint,
        Intent::Status,
        Intent::Rating,
        Intent::Human,
        Intent::Chitchat,
        Intent::OutOfScope,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Service => "service",
            Intent::Complaint => "complaint",
            Intent::Status => "status",
            Intent::Rating => "rating",
            Intent::Human => "human",
            Intent::Chitchat => "chitchat",
            Intent::OutOfScope => "out_of_scope",
        }
    }
}

impl std::str::FromStr for Intent {
    type Err = String;
    fn from_str(text: &str) -> Result<Intent, String> {
        Intent::ALL
            .into_iter()
            .find(|i| i.as_str() == text)
            .ok_or_else(|| format!("unknown intent {text:?}"))
    }
}

/// What the words of the message say, before retrieval.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Signals {
    /// An intent the rules are sure of (human, rating, status, strong complaint).
    pub decided: Option<Intent>,
    /// A weak sign of a complaint: used when retrieval finds nothing convincing.
    pub complaint_hint: bool,
    /// The message is only a greeting, thanks or small talk.
    pub chitchat: bool,
}

fn contains_any(text: &str, words: &[String]) -> bool {
    words.iter().any(|w| contains_word(text, w))
}

/// Substring match, but ASCII words must stand alone ("hi" is not in "this").
fn contains_word(text: &str, word: &str) -> bool {
    if !word.is_ascii() {
        return text.contains(word);
    }
    let mut start = 0;
    while let Some(pos) = text[start..].find(word) {
        let begin = start + pos;
        let end = begin + word.len();
        let before = text[..begin]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        let after = text[end..].chars().next().is_none_or(|c| !c.is_ascii_alphanumeric());
        if before && after {
            return true;
        }
        start = end;
    }
    false
}

/// A question about what the assistant is (“你是机器人吗”, “are you a real person”) rather
/// than a request to be put through to a person.
fn about_the_assistant(words: &Phrases, text: &str) -> bool {
    contains_any(text, words.words(lists::YOU))
        && contains_any(text, words.words(lists::WHAT_ARE_YOU))
        && !contains_any(text, words.words(lists::ASK_FOR_SOMEONE))
}

/// Rules on the (normalised) message, with the word lists of `phrases.toml` `[words]`.
pub fn detect_rules(words: &Phrases, text: &str) -> Signals {
    let text = index::normalize(text);
    let mut signals = Signals::default();
    let bare_human = text.contains("人工") && !text.contains("人工智能");
    if about_the_assistant(words, &text) {
        // “你是真人吗”: a question about the assistant, not a request for an agent.
        signals.decided = Some(Intent::Chitchat);
    } else if contains_any(&text, words.words(lists::HUMAN)) || bare_human {
        signals.decided = Some(Intent::Human);
    } else if gives_rating(words, &text) {
        // “差评，窗口态度很差”: a verdict with its reason, not a new complaint.
        signals.decided = Some(Intent::Rating);
    } else if contains_any(&text, words.words(lists::COMPLAINT_STRONG))
        && !text.contains("投诉进度")
        && !is_status(words, &text)
    {
        // A complaint word in a question about how to get something (“公司不发工资，生育津贴
        // 怎么领”) is left to retrieval and the head to judge.
        if !asks_how_to_get(words, &text) {
            signals.decided = Some(Intent::Complaint);
        }
    } else if is_status(words, &text) {
        signals.decided = Some(Intent::Status);
    } else if contains_any(&text, words.words(lists::RATING)) {
        signals.decided = Some(Intent::Rating);
    }
    signals.complaint_hint = contains_any(&text, words.words(lists::COMPLAINT_WEAK));
    signals.chitchat = is_chitchat(words, &text);
    signals
}

/// A rating given: a verdict word, or a score (“三星吧”, “给4颗星”, “打3分”) that is the
/// message or follows a verb of rating. Naming the complaint channel (投诉, 举报) keeps it a
/// complaint; a score inside other words (驾照扣了3分) is no rating.
fn gives_rating(words: &Phrases, text: &str) -> bool {
    if text.contains("投诉") || text.contains("举报") {
        return false;
    }
    if contains_any(text, words.words(lists::VERDICTS)) {
        return true;
    }
    let Some((_, span)) = crate::tickets::score_of(text) else {
        return false;
    };
    let before = &text[..span.start];
    let rest = format!("{before}{}", &text[span.end..]);
    let rest = words
        .rating
        .frame
        .iter()
        .fold(rest, |rest, w| rest.replace(w.as_str(), ""));
    crate::reading::n_units(&rest) <= 1
        || ["打", "给", "评", "打个", "给个"]
            .iter()
            .any(|v| before.trim_end().ends_with(v))
}

/// Asking how to get or do something (“孩子出生那笔补助怎么领”, “卡坏了去哪儿换”): a service
/// question even when it also tells a grievance.
pub(crate) fn asks_how_to_get(words: &Phrases, message: &str) -> bool {
    let text = index::normalize(message);
    words
        .words(lists::ASKS_HOW_TO_GET)
        .iter()
        .any(|ask| text.contains(ask.as_str()))
}

fn is_status(words: &Phrases, text: &str) -> bool {
    contains_any(text, words.words(lists::STATUS_WHAT)) && contains_any(text, words.words(lists::STATUS_MINE))
}

/// Only small talk: once the greeting words are removed, almost nothing is left.
fn is_chitchat(words: &Phrases, text: &str) -> bool {
    let mut rest = text.to_string();
    let mut found = false;
    for word in words.words(lists::CHITCHAT) {
        if contains_word(&rest, word) {
            found = true;
            rest = rest.replace(word.as_str(), "");
        }
    }
    let meaningful = rest
        .chars()
        .filter(|c| c.is_alphanumeric() && !"啊呀呢吧哦嗯哈的了么我你小助手请问".contains(*c))
        .count();
    found && meaningful <= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asking_what_the_assistant_is_is_chitchat_not_a_request_for_an_agent() {
        for message in ["你是不是机器人啊", "请问您是人工智能吗", "are you a bot or a human?"] {
            assert_eq!(
                detect_rules(Phrases::builtin(), message).decided,
                Some(Intent::Chitchat),
                "{message}"
            );
        }
        for message in ["帮我转真人", "我要找活人说话", "let me talk to a real person"] {
            assert_eq!(
                detect_rules(Phrases::builtin(), message).decided,
                Some(Intent::Human),
                "{message}"
            );
        }
    }

    #[test]
    fn rules_decide_the_clear_cases() {
        assert_eq!(detect_rules(Phrases::builtin(), "转人工").decided, Some(Intent::Human));
        assert_eq!(
            detect_rules(Phrases::builtin(), "我要投诉楼下饭店油烟").decided,
            Some(Intent::Complaint)
        );
        assert_eq!(
            detect_rules(Phrases::builtin(), "我上周提交的申请到哪一步了").decided,
            Some(Intent::Status)
        );
        assert_eq!(
            detect_rules(Phrases::builtin(), "我要给个差评").decided,
            Some(Intent::Rating)
        );
        assert!(detect_rules(Phrases::builtin(), "你好").chitchat);
        assert!(!detect_rules(Phrases::builtin(), "你好，护照怎么办").chitchat);
    }

    #[test]
    fn a_status_question_about_a_complaint_is_status() {
        assert_eq!(
            detect_rules(Phrases::builtin(), "我的投诉处理得怎么样了").decided,
            Some(Intent::Status)
        );
    }

    #[test]
    fn a_bad_rating_worded_like_a_complaint_is_a_rating() {
        for message in [
            "差评，窗口工作人员态度很差",
            "给个差评，让我跑了三趟",
            "中评吧，等太久了",
        ] {
            assert_eq!(
                detect_rules(Phrases::builtin(), message).decided,
                Some(Intent::Rating),
                "{message}"
            );
        }
        // Naming the complaint channel keeps it a complaint.
        assert_eq!(
            detect_rules(Phrases::builtin(), "我要投诉窗口态度很差，必须差评").decided,
            Some(Intent::Complaint)
        );
    }

    #[test]
    fn stars_alone_are_a_rating_not_a_service_question() {
        for message in ["三星吧", "给4颗星", "打3分", "★★★", "五星"] {
            assert_eq!(
                detect_rules(Phrases::builtin(), message).decided,
                Some(Intent::Rating),
                "{message}"
            );
        }
        for message in ["驾照扣了3分怎么办", "等了一星期还没人来修路灯"] {
            assert_ne!(
                detect_rules(Phrases::builtin(), message).decided,
                Some(Intent::Rating),
                "{message}"
            );
        }
    }

    #[test]
    fn ascii_words_do_not_fire_inside_other_words() {
        assert!(!detect_rules(Phrases::builtin(), "this is my passport").chitchat);
    }
}

/// Names of documents in the message: for each document ending, the characters before it
/// back to a verb or particle (“养狗要办狗证吗” → “狗证”).
pub fn named_documents(words: &Phrases, text: &str) -> Vec<String> {
    let chars: Vec<char> = index::normalize(text).chars().collect();
    let breaks = words.words(lists::NAME_BREAKS).concat();
    let mut names = Vec::new();
    let mut end = chars.len();
    while end > 0 {
        let before: String = chars[..end].iter().collect();
        let Some(suffix) = words
            .words(lists::DOCUMENT_SUFFIXES)
            .iter()
            .find(|s| before.ends_with(s.as_str()))
        else {
            end -= 1;
            continue;
        };
        let suffix_start = end - suffix.chars().count();
        let start = name_start(&breaks, &chars, suffix_start);
        if start < suffix_start {
            names.push(chars[start..end].iter().collect());
        }
        end = start.min(suffix_start);
        if end == suffix_start {
            end = suffix_start.saturating_sub(1);
        }
    }
    names
}

/// Where the name ending at `end` begins: back over Chinese characters to a verb, particle or
/// quantifier (the characters of `breaks`).
fn name_start(breaks: &str, chars: &[char], end: usize) -> usize {
    let mut start = end;
    while start > 0 && index_is_cjk(chars[start - 1]) && !breaks.contains(chars[start - 1]) {
        start -= 1;
    }
    start
}

fn index_is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF)
}

/// The lengths of the tails of the document name `name`, longer than its ending, that some
/// guide mentions (“小孩医保卡” → 3, for “医保卡”).
fn mentioned_tails(words: &Phrases, index: &index::SearchIndex, name: &str) -> Vec<usize> {
    let chars: Vec<char> = name.chars().collect();
    let suffix = words
        .words(lists::DOCUMENT_SUFFIXES)
        .iter()
        .find(|s| name.ends_with(s.as_str()))
        .map_or(1, |s| s.chars().count());
    let shortest = (suffix + 1).min(chars.len());
    (shortest..=chars.len())
        .filter(|&n| index.mentions(&chars[chars.len() - n..].iter().collect::<String>()))
        .collect()
}

/// A named document none of the guides knows, even by sound: “持枪证”, “美国签证”. Every
/// tail of the name longer than its ending is tried, so “小孩医保卡” is known through
/// “医保卡”.
pub fn unknown_document(words: &Phrases, index: &index::SearchIndex, text: &str) -> Option<String> {
    named_documents(words, text)
        .into_iter()
        .find(|name| mentioned_tails(words, index, name).is_empty())
}

/// A named document known only through a tail whose qualifier no guide speaks of: another
/// document of a covered family (出版物 + 经营许可证 next to 食品经营许可证), not a way of
/// naming a covered one (小孩 + 医保卡: the guides use 小孩). A noun of the qualifier that no
/// guide mentions makes it another document. Returns the name.
pub fn unknown_qualifier(words: &Phrases, index: &index::SearchIndex, text: &str) -> Option<String> {
    named_documents(words, text).into_iter().find(|name| {
        let chars: Vec<char> = name.chars().collect();
        // With no tail known, the qualifier is all before the ending (商品房预售 + 许可证).
        let ending = words
            .words(lists::DOCUMENT_SUFFIXES)
            .iter()
            .find(|s| name.ends_with(s.as_str()))
            .map_or(1, |s| s.chars().count());
        let longest = mentioned_tails(words, index, name).into_iter().max().unwrap_or(ending);
        if longest >= chars.len() {
            return false;
        }
        // The qualifier's pieces, tagged within the whole name (医师执业证: 医师 + 执业, where
        // the qualifier alone would be cut otherwise).
        let qualifier_len = chars.len() - longest;
        let mut at = 0;
        let pieces: Vec<(String, String)> = index
            .tagged(name)
            .into_iter()
            .filter(|(word, _)| {
                at += word.chars().count();
                at <= qualifier_len
            })
            .collect();
        // A name is not built with a one-character verb: what stands before one is the
        // sentence, not the name (亲戚说光跑 + 证).
        let from = pieces
            .iter()
            .rposition(|(word, tag)| tag == "v" && word.chars().count() == 1)
            .map_or(0, |at| at + 1);
        // The qualifier's nouns, by the dictionary's tags (开一份 has none: a verb and a count).
        pieces[from..].iter().any(|(word, tag)| {
            (tag.starts_with('n') || tag == "vn") && word.chars().count() >= 2 && !index.mentions(word)
        })
    })
}

#[cfg(test)]
mod document_tests {
    use super::{named_documents, unknown_qualifier};
    use knowledge::Phrases;

    #[test]
    fn a_qualifier_no_guide_speaks_of_makes_another_document() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../knowledge/data");
        let corpus = knowledge::Corpus::load(&dir).unwrap().corpus;
        let engine = crate::Engine::new(corpus, index::IndexConfig::default()).unwrap();
        let words = &engine.corpus.phrases;
        let unknown = |text: &str| unknown_qualifier(words, &engine.index, text);
        assert_eq!(
            unknown("出版物经营许可证去哪里申请").as_deref(),
            Some("出版物经营许可证")
        );
        // No tail of the name is known: the qualifier is all before the ending.
        assert_eq!(unknown("渔业捕捞许可证到哪里办").as_deref(), Some("渔业捕捞许可证"));
        // Before a one-character verb stands the sentence, not the name.
        assert_eq!(unknown("邻居讲光跑证就跑了一个月"), None);
        // Covered documents, however they are qualified: words the guides use, or no noun.
        assert_eq!(unknown("食品经营许可证怎么申请"), None);
        assert_eq!(unknown("小孩的医保卡在哪办"), None);
        assert_eq!(unknown("我还要开一份无犯罪记录证明"), None);
    }

    #[test]
    fn names_stop_at_verbs_and_particles() {
        assert_eq!(named_documents(Phrases::builtin(), "养狗要办狗证吗"), vec!["狗证"]);
        assert_eq!(named_documents(Phrases::builtin(), "美国签证怎么办"), vec!["美国签证"]);
        assert_eq!(
            named_documents(Phrases::builtin(), "营业性演出许可证去哪申请"),
            vec!["营业性演出许可证"]
        );
        assert_eq!(named_documents(Phrases::builtin(), "办证"), Vec::<String>::new());
        assert_eq!(
            named_documents(Phrases::builtin(), "身份证和户口卡"),
            vec!["户口卡", "身份证"]
        );
    }
}

/// A service the guides do not offer, named as object + verb (“离婚登记”, “商标注册”,
/// “驾照科目一考试”): no guide mentions the object (two characters or more of its end)
/// followed by the verb, and either the object's last word is not in any guide's title,
/// alias or lexicon term or no guide mentions the verb at all. Returns the phrase.
/// “结婚登记” is known; “高龄津贴申请” is known through “津贴”, a word of a title.
pub fn unknown_service(words: &Phrases, index: &index::SearchIndex, text: &str) -> Option<String> {
    let chars: Vec<char> = index::normalize(text).chars().collect();
    let breaks = words.words(lists::NAME_BREAKS).concat();
    for verb in words.words(lists::SERVICE_VERBS) {
        let verb_chars: Vec<char> = verb.chars().collect();
        let Some(at) = chars.windows(verb_chars.len()).position(|w| w == verb_chars.as_slice()) else {
            continue;
        };
        // The object stands right before the verb (商标注册) or before a question word that
        // stands before it (工伤认定要怎么去申请).
        let before: String = chars[..at].iter().collect();
        let end = words
            .words(lists::QUESTION_FILLERS)
            .iter()
            .find(|filler| before.ends_with(filler.as_str()))
            .map_or(at, |filler| at - filler.chars().count());
        let start = name_start(&breaks, &chars, end);
        if end - start < 2 {
            continue;
        }
        let object: String = chars[start..end].iter().collect();
        if words
            .words(lists::ADVERBS)
            .iter()
            .any(|adverb| object.ends_with(adverb.as_str()))
        {
            continue;
        }
        let known_compound = (start..=end - 2).any(|from| {
            let tail: String = chars[from..end].iter().collect();
            index.mentions(&format!("{tail}{verb}"))
        });
        if known_compound {
            continue;
        }
        let named = index.words(&object).last().is_some_and(|word| index.names(word));
        // 新车上牌: the object is known (新车免检) but no guide does the verb at all.
        if !named || !index.mentions(verb) {
            return Some(format!("{object}{verb}"));
        }
    }
    None
}

/// Things a citizen asks to have done to a document, by the list of words that ask for it and
/// the list of words a guide uses where it offers that: a guide that never speaks of losing or
/// replacing a licence does not answer “驾驶证丢了怎么补办”. (“补办” alone is not asked for: it
/// also means doing something late, “还没办医保，现在补办”.)
const ACTIONS: &[(&str, &str)] = &[
    (lists::LOST, lists::LOST_OFFERS),
    (lists::CHANGE_ASKS, lists::CHANGE_OFFERS),
    (lists::FREEZE_ASKS, lists::FREEZE_OFFERS),
];

/// The words of the message asking for an action that guide `id` never speaks of, if any.
pub fn unoffered_action<'a>(words: &'a Phrases, index: &index::SearchIndex, id: &str, text: &str) -> Option<&'a str> {
    let text = index::normalize(text);
    ACTIONS.iter().find_map(|(asks, offers)| {
        let asked = words.words(asks).iter().find(|w| find_ask(&text, w).is_some())?;
        (!words.words(offers).iter().any(|w| index.guide_mentions(id, w))).then_some(asked.as_str())
    })
}

/// Whether guide `id` misses what the message asks: an action it never speaks of, or a lost
/// document it does not name.
pub fn misfit(words: &Phrases, index: &index::SearchIndex, id: &str, text: &str) -> bool {
    unoffered_action(words, index, id, text).is_some() || lost_elsewhere(words, index, id, text).is_some()
}

/// The document the message says was lost (“户口本丢了”), when guide `id`'s title, aliases,
/// summary and FAQ questions name neither it nor its official term: that guide replaces
/// something else.
pub fn lost_elsewhere(words: &Phrases, index: &index::SearchIndex, id: &str, text: &str) -> Option<String> {
    let chars: Vec<char> = index::normalize(text).chars().collect();
    let normalized: String = chars.iter().collect();
    let at = words
        .words(lists::LOST)
        .iter()
        .find_map(|word| find_ask(&normalized, word))?;
    let at = normalized[..at].chars().count();
    let start = name_start(&words.words(lists::NAME_BREAKS).concat(), &chars, at);
    // The document is the word right before the loss (户口本丢了) or, when that is no
    // document (身份证出差在外地丢了), the documents the message names.
    let chunk: String = chars[start..at].iter().collect();
    let is_document = |word: &str| {
        words
            .words(lists::DOCUMENT_ENDINGS)
            .iter()
            .any(|e| word.ends_with(e.as_str()))
    };
    let objects: Vec<String> = match index.words(&chunk).pop().filter(|w| is_document(w)) {
        Some(object) => vec![object],
        None => named_documents(words, &normalized),
    };
    let named = |object: &String| {
        index.in_scope(id, object) || index.official_terms(object).iter().any(|t| index.in_scope(id, t))
    };
    if objects.is_empty() || objects.iter().any(named) {
        return None;
    }
    objects.into_iter().next()
}

/// Where `word` asks for something in `text` (a byte offset): “掉了” after a verb of getting
/// rid of something (卖掉了, 扔掉了) says nothing was lost.
fn find_ask(text: &str, word: &str) -> Option<usize> {
    text.match_indices(word).map(|(at, _)| at).find(|&at| {
        word != "掉了"
            || !text[..at]
                .chars()
                .next_back()
                .is_some_and(|c| "卖扔删花用吃退除换跑忘改拆".contains(c))
    })
}
