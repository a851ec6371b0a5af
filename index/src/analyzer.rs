//! Chinese text analysis shared by indexing and querying: segmentation (jieba search mode,
//! CJK bigrams, or both), normalisation (lowercase, full-width to half-width) and stop words;
//! plus a pinyin analyser that lets homophone typos (架照, 公基金) still meet their words.

use std::sync::Arc;

use jieba_rs::Jieba;
use pinyin::ToPinyin;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// How Chinese text is cut into index terms. Measured with `banshi eval --segmentation`;
/// the default is the one that recalled best on our eval set (see ARCHITECTURE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Segmentation {
    /// jieba's search mode: words plus the shorter words inside long ones.
    Jieba,
    /// Overlapping pairs of CJK characters; no dictionary.
    Bigram,
    /// Both: dictionary words and bigrams.
    #[default]
    JiebaBigram,
}

impl std::str::FromStr for Segmentation {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "jieba" => Ok(Segmentation::Jieba),
            "bigram" => Ok(Segmentation::Bigram),
            "jieba-bigram" => Ok(Segmentation::JiebaBigram),
            other => Err(format!("unknown segmentation {other:?} (jieba, bigram, jieba-bigram)")),
        }
    }
}

/// Words that carry no meaning for finding a guide. Kept short on purpose: words such as
/// 办理 or 申请 are frequent but BM25's idf already discounts them.
const STOPWORDS: &[&str] = &[
    "的",
    "了",
    "吗",
    "呢",
    "吧",
    "啊",
    "呀",
    "哦",
    "嗯",
    "么",
    "我",
    "你",
    "您",
    "他",
    "她",
    "我们",
    "你们",
    "是",
    "在",
    "有",
    "和",
    "与",
    "或",
    "及",
    "也",
    "都",
    "就",
    "还",
    "要",
    "想",
    "请问",
    "请",
    "问",
    "一下",
    "怎么",
    "怎样",
    "怎么办",
    "如何",
    "什么",
    "啥",
    "咋",
    "哪",
    "哪里",
    "哪儿",
    "多少",
    "能",
    "能不能",
    "可以",
    "可不可以",
    "需要",
    "需",
    "得",
    "该",
    "这",
    "那",
    "这个",
    "那个",
    "个",
    "下",
    "给",
    "把",
    "被",
    "让",
    "去",
    "到",
    "从",
    "对",
    "吗？",
    "呢？",
    "啦",
    "嘛",
    "哈",
    "谢谢",
    "你好",
    "您好",
    "一个",
    "自己",
    "现在",
    "已经",
    "the",
    "a",
    "an",
    "to",
    "of",
    "for",
    "in",
    "on",
    "my",
    "i",
    "do",
    "how",
    "what",
    "is",
    "are",
    "can",
    "me",
    "and",
    "or",
    "with",
    "it",
    "be",
    "need",
    "want",
    "where",
];

pub fn is_stopword(word: &str) -> bool {
    static SET: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
        std::sync::LazyLock::new(|| STOPWORDS.iter().copied().collect());
    SET.contains(word)
}

pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Lowercase and fold full-width ASCII (ＡＢＣ１２３) to half-width.
pub fn normalize(text: &str) -> String {
    normalize_with_offsets(text).0
}

fn fold(c: char) -> char {
    match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    }
}

/// The normalised text and, for each of its bytes (plus one past the end), the byte offset
/// in `text` of the character it came from, so tokens can point into the original.
fn normalize_with_offsets(text: &str) -> (String, Vec<usize>) {
    let mut normalized = String::with_capacity(text.len());
    let mut original = Vec::with_capacity(text.len() + 1);
    for (offset, c) in text.char_indices() {
        // One character for one: a lowercase that expands (İ → i + U+0307) keeps its first,
        // so that no term can end inside one character of the original.
        let lower = fold(c).to_lowercase().next().unwrap_or(c);
        normalized.push(lower);
        original.extend(std::iter::repeat_n(offset, lower.len_utf8()));
    }
    original.push(text.len());
    (normalized, original)
}

fn is_word_char(c: char) -> bool {
    is_cjk(c) || c.is_alphanumeric()
}

/// The Chinese analyser. Cloning is cheap: the dictionary is shared.
#[derive(Clone)]
pub struct ZhTokenizer {
    jieba: Arc<Jieba>,
    segmentation: Segmentation,
    tokens: Vec<Token>,
}

impl ZhTokenizer {
    pub fn new(jieba: Arc<Jieba>, segmentation: Segmentation) -> ZhTokenizer {
        ZhTokenizer {
            jieba,
            segmentation,
            tokens: Vec::new(),
        }
    }

    /// The segmenter's cut of `text` (already normalised), every piece kept.
    pub fn cut(&self, text: &str) -> Vec<String> {
        self.jieba
            .cut(text, false)
            .into_iter()
            .map(|t| t.word.to_string())
            .collect()
    }

    /// Like [`ZhTokenizer::words`], with the shorter words inside long ones too (残疾人证 →
    /// 残疾, 残疾人, 残疾人证).
    pub fn search_words(&self, original: &str) -> Vec<String> {
        let text = normalize(original);
        content_words(self.jieba.cut_for_search(&text, false).into_iter().map(|t| t.word))
    }

    /// Every piece of `text` (normalised) with its part of speech from the segmenter's general
    /// dictionary (`n` noun, `v` verb, `vn` verbal noun …): the plain dictionary, without the
    /// corpus's names added (they would come back whole, untagged).
    pub fn tagged(&self, original: &str) -> Vec<(String, String)> {
        static PLAIN: std::sync::LazyLock<Jieba> = std::sync::LazyLock::new(Jieba::new);
        let text = normalize(original);
        PLAIN
            .tag(&text, false)
            .into_iter()
            .map(|t| (t.word.to_string(), t.tag.to_string()))
            .collect()
    }

    /// Whether the segmenter's dictionary has `word`.
    pub fn knows(&self, word: &str) -> bool {
        self.jieba.has_word(word)
    }

    /// Whole words of `text` (normalised) as the segmenter cuts it: two characters or more,
    /// stop words removed.
    pub fn words(&self, original: &str) -> Vec<String> {
        let text = normalize(original);
        content_words(self.jieba.cut(&text, true).into_iter().map(|t| t.word))
    }

    /// Terms of `text` (normalised), stop words removed, in the order of their offsets, which
    /// are byte offsets into `text` itself.
    pub fn analyze(&self, original: &str) -> Vec<Token> {
        let (text, offsets) = normalize_with_offsets(original);
        let mut raw: Vec<(usize, usize)> = Vec::new();
        if matches!(self.segmentation, Segmentation::Jieba | Segmentation::JiebaBigram) {
            for token in self.jieba.cut_for_search(&text, true) {
                raw.push((token.byte_start, token.byte_end));
            }
        }
        if matches!(self.segmentation, Segmentation::Bigram | Segmentation::JiebaBigram) {
            push_bigrams(&text, &mut raw);
        }
        // Snippets need tokens in text order.
        raw.sort_unstable();
        raw.dedup();
        let mut tokens: Vec<Token> = Vec::new();
        for (start, end) in raw {
            let word = &text[start..end];
            if !word.chars().any(is_word_char) || is_stopword(word) {
                continue;
            }
            tokens.push(Token {
                offset_from: offsets[start],
                offset_to: offsets[end],
                position: tokens.len(),
                text: word.to_string(),
                position_length: 1,
            });
        }
        tokens
    }
}

/// The words of two characters or more that are no stop words.
fn content_words<'a>(words: impl Iterator<Item = &'a str>) -> Vec<String> {
    words
        .filter(|w| w.chars().count() >= 2 && w.chars().any(is_word_char) && !is_stopword(w))
        .map(str::to_string)
        .collect()
}

/// CJK runs as overlapping bigrams (a lone character as itself); other word runs whole.
fn push_bigrams(text: &str, out: &mut Vec<(usize, usize)>) {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let end_of = |i: usize| chars.get(i + 1).map_or(text.len(), |(b, _)| *b);
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        if is_cjk(c) {
            let mut j = i;
            while j + 1 < chars.len() && is_cjk(chars[j + 1].1) {
                j += 1;
            }
            if i == j {
                out.push((start, end_of(i)));
            }
            for (k, &(offset, _)) in chars.iter().enumerate().take(j).skip(i) {
                out.push((offset, end_of(k + 1)));
            }
            i = j + 1;
        } else if c.is_alphanumeric() {
            let mut j = i;
            while j + 1 < chars.len() && chars[j + 1].1.is_alphanumeric() && !is_cjk(chars[j + 1].1) {
                j += 1;
            }
            out.push((start, end_of(j)));
            i = j + 1;
        } else {
            i += 1;
        }
    }
}

/// Toneless pinyin bigrams of the CJK characters (驾照 → "jia_zhao"), so that a homophone
/// typo (架照) produces the same terms as the word it was meant to be.
pub fn pinyin_terms(text: &str) -> Vec<String> {
    let text = normalize(text);
    let mut terms = Vec::new();
    for run in text.split(|c: char| !is_cjk(c)).filter(|r| !r.is_empty()) {
        let syllables: Vec<&str> = run.to_pinyin().map(|p| p.map_or("?", |p| p.plain())).collect();
        for pair in syllables.windows(2) {
            let term = format!("{}_{}", pair[0], pair[1]);
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
    }
    terms
}

/// tantivy adapter: a stream over the tokens computed by [`ZhTokenizer::analyze`].
pub struct ZhTokenStream<'a> {
    tokens: &'a mut Vec<Token>,
    index: usize,
}

impl Tokenizer for ZhTokenizer {
    type TokenStream<'a> = ZhTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> ZhTokenStream<'a> {
        self.tokens = self.analyze(text);
        ZhTokenStream {
            tokens: &mut self.tokens,
            index: usize::MAX,
        }
    }
}

impl TokenStream for ZhTokenStream<'_> {
    fn advance(&mut self) -> bool {
        self.index = self.index.wrapping_add(1);
        self.index < self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.index]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.index]
    }
}

/// The pinyin analyser as a tantivy tokenizer (offsets are not meaningful: never highlighted).
#[derive(Clone, Default)]
pub struct PinyinTokenizer {
    tokens: Vec<Token>,
}

impl Tokenizer for PinyinTokenizer {
    type TokenStream<'a> = ZhTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> ZhTokenStream<'a> {
        self.tokens = pinyin_terms(text)
            .into_iter()
            .enumerate()
            .map(|(position, term)| Token {
                offset_from: 0,
                offset_to: 0,
                position,
                text: term,
                position_length: 1,
            })
            .collect();
        ZhTokenStream {
            tokens: &mut self.tokens,
            index: usize::MAX,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(segmentation: Segmentation, text: &str) -> Vec<String> {
        ZhTokenizer::new(Arc::new(Jieba::new()), segmentation)
            .analyze(text)
            .into_iter()
            .map(|t| t.text)
            .collect()
    }

    #[test]
    fn bigrams_cover_cjk_runs_and_keep_ascii_words() {
        assert_eq!(words(Segmentation::Bigram, "换驾照ABC"), vec!["换驾", "驾照", "abc"]);
        assert_eq!(words(Segmentation::Bigram, "证"), vec!["证"]);
    }

    #[test]
    fn jieba_mode_drops_stop_words_and_punctuation() {
        let terms = words(Segmentation::Jieba, "请问，护照怎么办理？");
        assert!(terms.contains(&"护照".to_string()), "{terms:?}");
        assert!(
            !terms.iter().any(|t| t == "请问" || t == "怎么" || t == "，"),
            "{terms:?}"
        );
    }

    #[test]
    fn full_width_letters_are_folded_and_offsets_stay_in_the_original() {
        assert_eq!(normalize("ＩＤ卡"), "id卡");
        assert_eq!(normalize("İD"), "id");
        let tokens = ZhTokenizer::new(Arc::new(Jieba::new()), Segmentation::Bigram).analyze("ＩＤ卡");
        assert_eq!(
            (tokens[0].text.as_str(), tokens[0].offset_from, tokens[0].offset_to),
            ("id", 0, 6)
        );
    }

    #[test]
    fn homophone_typo_shares_pinyin_terms() {
        assert_eq!(pinyin_terms("架照"), pinyin_terms("驾照"));
        assert_eq!(pinyin_terms("公基金"), pinyin_terms("公积金"));
    }

    proptest::proptest! {
        #[test]
        fn analysis_never_panics_and_offsets_point_into_the_original(text in "\\PC{0,40}") {
            let tokenizer = ZhTokenizer::new(Arc::new(Jieba::new()), Segmentation::JiebaBigram);
            let mut previous = 0;
            for token in tokenizer.analyze(&text) {
                proptest::prop_assert!(token.offset_from >= previous, "tokens in text order");
                previous = token.offset_from;
                let slice = &text[token.offset_from..token.offset_to];
                proptest::prop_assert_eq!(normalize(slice), token.text);
            }
            let _ = pinyin_terms(&text);
        }
    }
}
