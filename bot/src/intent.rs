//! Intents, first by rules on the words of the message. Retrieval then decides between
//! `service` and `out_of_scope` for what the rules leave open (see `dialogue`).

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

const HUMAN: &[&str] = &[
    "转人工",
    "人工客服",
    "人工服务",
    "找人工",
    "要人工",
    "真人",
    "活人",
    "接线员",
    "坐席",
    "客服电话",
    "有没有客服",
    "找客服",
    "联系客服",
    "人工座席",
    "找个人",
    "工作人员给我",
    "给我打个电话",
    "打电话给我",
    "别机器人",
    "不要机器人",
    "human agent",
    "real person",
    "talk to a person",
    "speak to someone",
    "operator",
];

const RATING: &[&str] = &[
    "差评",
    "好评",
    "中评",
    "评价",
    "打分",
    "打个分",
    "评分",
    "满意度",
    "非常满意",
    "不满意",
    "很满意",
    "五星",
    "一星",
    "rate this",
    "rating",
    "feedback",
];

const STATUS_WHAT: &[&str] = &[
    "进度",
    "到哪一步",
    "到哪步",
    "到哪了",
    "到哪儿了",
    "办得怎么样",
    "处理得怎么样",
    "处理的怎么样",
    "办的怎么样",
    "怎么还没",
    "还没到账",
    "还没下来",
    "还没批",
    "还没办好",
    "还没有消息",
    "有结果了吗",
    "受理了吗",
    "审核通过了吗",
    "办好了没",
    "办好了吗",
    "批下来了吗",
    "处理结果",
    "查一下我的",
    "查询我的",
    "我的申请",
    "我的办件",
    "我的工单",
    "我的投诉",
    "审核到哪",
    "审批到哪",
    "什么状态",
    "好了没有",
    "好了没",
    "有回复了吗",
    "有结果",
    "还没寄到",
    "还没收到",
    "帮我查查",
    "帮我查一下",
    "status of my",
    "my application",
    "track my",
];

const STATUS_MINE: &[&str] = &[
    "我的",
    "我上",
    "我提交",
    "我申请",
    "我之前",
    "我前",
    "我已经",
    "已经提交",
    "提交了",
    "申请了",
    "交了",
    "办了",
    "报了",
    "反映的",
    "投诉的",
    "我那个",
    "我办的",
    "提交",
    "交上去",
    "上次",
    "编号",
    "my ",
];

/// Words that alone say "I want to complain or report".
const COMPLAINT_STRONG: &[&str] = &[
    "投诉",
    "举报",
    "扰民",
    "欠薪",
    "拖欠工资",
    "拖欠",
    "不发工资",
    "违建",
    "违章搭建",
    "违章建筑",
    "乱收费",
    "乱罚款",
    "不作为",
    "态度差",
    "态度恶劣",
    "态度很差",
    "态度太差",
    "态度不好",
    "推诿",
    "吃拿卡要",
    "偷排",
    "黑车",
    "缺斤少两",
    "占道经营",
    "乱停",
    "乱倒",
    "乱扔",
    "没人管",
    "没人处理",
    "没人修",
    "没人来修",
    "提交工单",
    "12345工单",
    "我要反映",
    "要反映",
    "反映一下",
    "没人清理",
    "宰客",
    "绕路",
    "不打表",
    "私搭乱建",
    "乱堆",
    "乱贴",
    "堵死",
    "锁死",
    "盲道",
    "消防通道",
    "太过分",
    "太离谱",
    "不像话",
    "岂有此理",
    "没人解释",
    "complain",
    "complaint",
    "report a problem",
];

/// Words that suggest a problem to report when no guide answers the message.
const COMPLAINT_WEAK: &[&str] = &[
    "噪音",
    "噪声",
    "吵",
    "污染",
    "垃圾",
    "臭",
    "油烟",
    "占道",
    "路灯",
    "红绿灯",
    "井盖",
    "积水",
    "漏水",
    "坑",
    "破损",
    "堵塞",
    "停水",
    "停电",
    "施工",
    "半夜",
    "深夜",
    "凌晨",
    "脏",
    "乱",
    "坏了",
    "没修",
    "卫生差",
    "noise",
    "pothole",
    "garbage",
    "broken",
];

const CHITCHAT: &[&str] = &[
    "你好",
    "您好",
    "hello",
    "hi",
    "hey",
    "在吗",
    "在不在",
    "谢谢",
    "多谢",
    "感谢",
    "thank",
    "thanks",
    "再见",
    "拜拜",
    "bye",
    "你是谁",
    "你叫什么",
    "你是机器人",
    "机器人吗",
    "早上好",
    "下午好",
    "晚上好",
    "辛苦了",
    "好的",
    "ok",
    "嗯嗯",
    "who are you",
    "good morning",
];

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

fn contains_any(text: &str, words: &[&str]) -> bool {
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

/// Words that address the assistant, and words that ask for someone else.
const YOU: &[&str] = &["你是", "您是", "你们是", "are you", "who are you", "you a "];
const ASK_FOR_SOMEONE: &[&str] = &[
    "转", "找", "要", "接", "换", "叫", "给我", "let me", "i want", "connect",
];
const WHAT_ARE_YOU: &[&str] = &[
    "真人",
    "活人",
    "机器人",
    "人工智能",
    "ai",
    "robot",
    "bot",
    "real person",
    "human",
    "谁",
    "哪",
    "什么",
];

/// A question about what the assistant is (“你是机器人吗”, “are you a real person”) rather
/// than a request to be put through to a person.
fn about_the_assistant(text: &str) -> bool {
    contains_any(text, YOU) && contains_any(text, WHAT_ARE_YOU) && !contains_any(text, ASK_FOR_SOMEONE)
}

/// Rules on the (normalised) message.
pub fn detect_rules(text: &str) -> Signals {
    let text = index::normalize(text);
    let mut signals = Signals::default();
    let bare_human = text.contains("人工") && !text.contains("人工智能");
    if about_the_assistant(&text) {
        // “你是真人吗”: a question about the assistant, not a request for an agent.
        signals.decided = Some(Intent::Chitchat);
    } else if contains_any(&text, HUMAN) || bare_human {
        signals.decided = Some(Intent::Human);
    } else if gives_rating(&text) {
        // “差评，窗口态度很差”: a verdict with its reason, not a new complaint.
        signals.decided = Some(Intent::Rating);
    } else if contains_any(&text, COMPLAINT_STRONG) && !text.contains("投诉进度") && !is_status(&text) {
        // A complaint word in a question about how to get something (“公司不发工资，生育津贴
        // 怎么领”) is left to retrieval and the head to judge.
        if !asks_how_to_get(&text) {
            signals.decided = Some(Intent::Complaint);
        }
    } else if is_status(&text) {
        signals.decided = Some(Intent::Status);
    } else if contains_any(&text, RATING) {
        signals.decided = Some(Intent::Rating);
    }
    signals.complaint_hint = contains_any(&text, COMPLAINT_WEAK);
    signals.chitchat = is_chitchat(&text);
    signals
}

/// Words of the 好差评 scale that give a verdict, whatever else the message says.
const VERDICTS: &[&str] = &["差评", "好评", "中评", "打分", "打个分"];

/// A rating given: a verdict word, or a score (“三星吧”, “给4颗星”, “打3分”) that is the
/// message or follows a verb of rating. Naming the complaint channel (投诉, 举报) keeps it a
/// complaint; a score inside other words (驾照扣了3分) is no rating.
fn gives_rating(text: &str) -> bool {
    if contains_any(text, &["投诉", "举报"]) {
        return false;
    }
    if contains_any(text, VERDICTS) {
        return true;
    }
    let Some((_, span)) = crate::tickets::score_of(text) else {
        return false;
    };
    let before = &text[..span.start];
    let rest = format!("{before}{}", &text[span.end..]);
    // The rules read text alone (evals call them without a corpus): the built-in frame words.
    let rest = knowledge::Phrases::builtin()
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
pub(crate) fn asks_how_to_get(message: &str) -> bool {
    const ASKS: &[&str] = &[
        "怎么领",
        "咋领",
        "咋申请",
        "咋办理",
        "去哪申请",
        "在哪申请",
        "去哪领",
        "在哪领",
        "哪里领",
        "怎么申请",
        "怎么办理",
        "去哪办",
        "在哪办",
        "哪里办",
        "去哪儿办",
        "去哪换",
        "去哪儿换",
        "在哪换",
        "怎么换",
        "怎么补办",
        "去哪补",
        "怎么申领",
    ];
    let text = index::normalize(message);
    ASKS.iter().any(|ask| text.contains(ask))
}

fn is_status(text: &str) -> bool {
    contains_any(text, STATUS_WHAT) && contains_any(text, STATUS_MINE)
}

/// Only small talk: once the greeting words are removed, almost nothing is left.
fn is_chitchat(text: &str) -> bool {
    let mut rest = text.to_string();
    let mut found = false;
    for word in CHITCHAT {
        if contains_word(&rest, word) {
            found = true;
            rest = rest.replace(word, "");
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
            assert_eq!(detect_rules(message).decided, Some(Intent::Chitchat), "{message}");
        }
        for message in ["帮我转真人", "我要找活人说话", "let me talk to a real person"] {
            assert_eq!(detect_rules(message).decided, Some(Intent::Human), "{message}");
        }
    }

    #[test]
    fn rules_decide_the_clear_cases() {
        assert_eq!(detect_rules("转人工").decided, Some(Intent::Human));
        assert_eq!(detect_rules("我要投诉楼下饭店油烟").decided, Some(Intent::Complaint));
        assert_eq!(detect_rules("我上周提交的申请到哪一步了").decided, Some(Intent::Status));
        assert_eq!(detect_rules("我要给个差评").decided, Some(Intent::Rating));
        assert!(detect_rules("你好").chitchat);
        assert!(!detect_rules("你好，护照怎么办").chitchat);
    }

    #[test]
    fn a_status_question_about_a_complaint_is_status() {
        assert_eq!(detect_rules("我的投诉处理得怎么样了").decided, Some(Intent::Status));
    }

    #[test]
    fn a_bad_rating_worded_like_a_complaint_is_a_rating() {
        for message in [
            "差评，窗口工作人员态度很差",
            "给个差评，让我跑了三趟",
            "中评吧，等太久了",
        ] {
            assert_eq!(detect_rules(message).decided, Some(Intent::Rating), "{message}");
        }
        // Naming the complaint channel keeps it a complaint.
        assert_eq!(
            detect_rules("我要投诉窗口态度很差，必须差评").decided,
            Some(Intent::Complaint)
        );
    }

    #[test]
    fn stars_alone_are_a_rating_not_a_service_question() {
        for message in ["三星吧", "给4颗星", "打3分", "★★★", "五星"] {
            assert_eq!(detect_rules(message).decided, Some(Intent::Rating), "{message}");
        }
        for message in ["驾照扣了3分怎么办", "等了一星期还没人来修路灯"] {
            assert_ne!(detect_rules(message).decided, Some(Intent::Rating), "{message}");
        }
    }

    #[test]
    fn ascii_words_do_not_fire_inside_other_words() {
        assert!(!detect_rules("this is my passport").chitchat);
    }
}

/// Endings of the names of documents and licences (持枪证, 美国签证, 营业性演出许可证).
const DOCUMENT_SUFFIXES: &[&str] = &["许可证", "证明", "执照", "签证", "证", "卡"];

/// Characters that end a name when reading backwards from its suffix (verbs, particles).
/// Quantifiers end a name too: “那一堆证” names no document.
const NAME_BREAKS: &str =
    "的了么办领补换申请要去在哪怎什这那张想把给为和与及考吗呢啊吧我你他她们有没是能可以个堆些几各每";

/// Names of documents in the message: for each document ending, the characters before it
/// back to a verb or particle (“养狗要办狗证吗” → “狗证”).
pub fn named_documents(text: &str) -> Vec<String> {
    let chars: Vec<char> = index::normalize(text).chars().collect();
    let mut names = Vec::new();
    let mut end = chars.len();
    while end > 0 {
        let before: String = chars[..end].iter().collect();
        let Some(suffix) = DOCUMENT_SUFFIXES.iter().find(|s| before.ends_with(*s)) else {
            end -= 1;
            continue;
        };
        let suffix_start = end - suffix.chars().count();
        let start = name_start(&chars, suffix_start);
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
/// quantifier (`NAME_BREAKS`).
fn name_start(chars: &[char], end: usize) -> usize {
    let mut start = end;
    while start > 0 && index_is_cjk(chars[start - 1]) && !NAME_BREAKS.contains(chars[start - 1]) {
        start -= 1;
    }
    start
}

fn index_is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF)
}

/// A named document none of the guides knows, even by sound: “持枪证”, “美国签证”. Every
/// tail of the name longer than its ending is tried, so “小孩医保卡” is known through
/// “医保卡”.
pub fn unknown_document(index: &index::SearchIndex, text: &str) -> Option<String> {
    named_documents(text).into_iter().find(|name| {
        let chars: Vec<char> = name.chars().collect();
        let suffix = DOCUMENT_SUFFIXES
            .iter()
            .find(|s| name.ends_with(*s))
            .map_or(1, |s| s.chars().count());
        let shortest = (suffix + 1).min(chars.len());
        !(shortest..=chars.len()).any(|n| index.mentions(&chars[chars.len() - n..].iter().collect::<String>()))
    })
}

#[cfg(test)]
mod document_tests {
    use super::named_documents;

    #[test]
    fn names_stop_at_verbs_and_particles() {
        assert_eq!(named_documents("养狗要办狗证吗"), vec!["狗证"]);
        assert_eq!(named_documents("美国签证怎么办"), vec!["美国签证"]);
        assert_eq!(named_documents("营业性演出许可证去哪申请"), vec!["营业性演出许可证"]);
        assert_eq!(named_documents("办证"), Vec::<String>::new());
        assert_eq!(named_documents("身份证和户口卡"), vec!["户口卡", "身份证"]);
    }
}

/// Verbs that name a service when they follow its object (离婚登记, 商标注册, 手机号过户).
const SERVICE_VERBS: &[&str] = &[
    "登记", "注册", "申请", "考试", "过户", "挂失", "改签", "上牌", "认证", "开户", "报名", "兑奖", "备案", "年审",
];

/// Adverbs that can stand where an object would (“到底去哪申请”): no object then.
const ADVERBS: &[&str] = &[
    "到底", "究竟", "应该", "具体", "一般", "现在", "还是", "直接", "马上", "需要", "必须", "赶紧", "已经", "一起",
    "重新",
];

/// Question words between an object and its verb (“工伤认定要怎么去申请”), longest first.
const QUESTION_FILLERS: &[&str] = &[
    "该怎么",
    "要怎么",
    "去哪里",
    "在哪里",
    "怎么",
    "如何",
    "怎样",
    "去哪",
    "在哪",
    "哪里",
];

/// A service the guides do not offer, named as object + verb (“离婚登记”, “商标注册”,
/// “驾照科目一考试”): no guide mentions the object (two characters or more of its end)
/// followed by the verb, and either the object's last word is not in any guide's title,
/// alias or lexicon term or no guide mentions the verb at all. Returns the phrase.
/// “结婚登记” is known; “高龄津贴申请” is known through “津贴”, a word of a title.
pub fn unknown_service(index: &index::SearchIndex, text: &str) -> Option<String> {
    let chars: Vec<char> = index::normalize(text).chars().collect();
    for verb in SERVICE_VERBS {
        let verb_chars: Vec<char> = verb.chars().collect();
        let Some(at) = chars.windows(verb_chars.len()).position(|w| w == verb_chars.as_slice()) else {
            continue;
        };
        // The object stands right before the verb (商标注册) or before a question word that
        // stands before it (工伤认定要怎么去申请).
        let before: String = chars[..at].iter().collect();
        let end = QUESTION_FILLERS
            .iter()
            .find(|filler| before.ends_with(*filler))
            .map_or(at, |filler| at - filler.chars().count());
        let start = name_start(&chars, end);
        if end - start < 2 {
            continue;
        }
        let object: String = chars[start..end].iter().collect();
        if ADVERBS.iter().any(|adverb| object.ends_with(adverb)) {
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

/// Things a citizen asks to have done to a document, by the words that ask for it, and the
/// words a guide uses where it offers that: a guide that never speaks of losing or replacing
/// a licence does not answer “驾驶证丢了怎么补办”. (“补办” alone is not asked for: it also
/// means doing something late, “还没办医保，现在补办”.)
const ACTIONS: &[(&[&str], &[&str])] = &[
    (LOST, &["丢", "遗失", "补办", "补领", "补发", "挂失", "补证", "补换"]),
    (&["变更", "更改", "改地址", "改名字", "地址怎么改"], &["变更", "更改"]),
    (&["解冻", "冻结"], &["冻结", "解冻"]),
];

/// The words of the message asking for an action that guide `id` never speaks of, if any.
pub fn unoffered_action(index: &index::SearchIndex, id: &str, text: &str) -> Option<&'static str> {
    let text = index::normalize(text);
    ACTIONS.iter().find_map(|(asks, offers)| {
        let asked = asks.iter().find(|w| find_ask(&text, w).is_some())?;
        (!offers.iter().any(|w| index.guide_mentions(id, w))).then_some(*asked)
    })
}

/// Whether guide `id` misses what the message asks: an action it never speaks of, or a lost
/// document it does not name.
pub fn misfit(index: &index::SearchIndex, id: &str, text: &str) -> bool {
    unoffered_action(index, id, text).is_some() || lost_elsewhere(index, id, text).is_some()
}

/// Words that say a document was lost.
const LOST: &[&str] = &["丢了", "丢失", "弄丢", "掉了", "遗失", "被偷", "找不到了"];

/// The document the message says was lost (“户口本丢了”), when guide `id`'s title, aliases,
/// summary and FAQ questions name neither it nor its official term: that guide replaces
/// something else.
pub fn lost_elsewhere(index: &index::SearchIndex, id: &str, text: &str) -> Option<String> {
    let chars: Vec<char> = index::normalize(text).chars().collect();
    let normalized: String = chars.iter().collect();
    let at = LOST.iter().find_map(|word| find_ask(&normalized, word))?;
    let at = normalized[..at].chars().count();
    let start = name_start(&chars, at);
    // The document is the word right before the loss (户口本丢了) or, when that is no
    // document (身份证出差在外地丢了), the documents the message names.
    let chunk: String = chars[start..at].iter().collect();
    let is_document = |word: &str| DOCUMENT_ENDINGS.iter().any(|e| word.ends_with(e));
    let objects: Vec<String> = match index.words(&chunk).pop().filter(|w| is_document(w)) {
        Some(object) => vec![object],
        None => named_documents(&normalized),
    };
    let named = |object: &String| {
        index.in_scope(id, object) || index.official_terms(object).iter().any(|t| index.in_scope(id, t))
    };
    if objects.is_empty() || objects.iter().any(named) {
        return None;
    }
    objects.into_iter().next()
}

/// Endings of words that name a document (户口本, 护照, 社保卡, 营业执照).
const DOCUMENT_ENDINGS: &[&str] = &["证", "卡", "本", "簿", "照", "证明", "执照", "书"];

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
