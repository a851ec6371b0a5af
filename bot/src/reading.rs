//! Reading what people mean from a few words: find a word of a list, then the negators and
//! degree words just before it (不太满意, 一点也不急, not very satisfied) and an emphatic
//! ending just after it (满意极了, not … at all). One small reader for ratings, urgency, yes
//! and no, and "my complaint is resolved"; the words are data (`knowledge::Phrases`), so a
//! missed phrasing is a line in `phrases.toml`, not a longer chain of substring tests.

use knowledge::phrases::Modifiers;

/// How far a degree word moves the word it modifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Degree {
    /// 很, 非常, 一点也: to the extreme (or, after a negator, a softened negation).
    Strong,
    /// 挺, 比较: no change.
    Mild,
    /// 基本, 有点: towards the middle.
    Hedge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Negator,
    Degree(Degree),
    Filler,
}

/// A word found, with what surrounds it. Offsets are bytes of the text read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Found<T> {
    pub value: T,
    /// Where the modifiers before the word begin.
    pub start: usize,
    pub word_start: usize,
    pub end: usize,
    pub n_negations: usize,
    /// The degree word nearest the word before its negator (很不满意), or anywhere before
    /// it when there is no negator (很满意).
    pub outer: Option<Degree>,
    /// The degree word between the negator and the word (不太满意).
    pub inner: Option<Degree>,
    /// An emphatic ending after the word (满意极了, at all).
    pub emphatic: bool,
}

impl<T> Found<T> {
    pub fn negated(&self) -> bool {
        self.n_negations % 2 == 1
    }

    /// Two negators cancel into a hedge (不是不满意 is not quite 满意).
    pub fn double_negation(&self) -> bool {
        self.n_negations > 0 && !self.negated()
    }

    /// Said with any negation or degree: more specific than the bare word.
    pub fn modified(&self) -> bool {
        self.n_negations > 0 || self.outer.is_some() || self.inner.is_some() || self.emphatic
    }
}

pub(crate) struct Reader<'a> {
    modifiers: &'a Modifiers,
}

/// ASCII words must stand alone: “no” is not in “not”, “ok” not in “book”.
fn at_boundary(text: &str, start: usize, end: usize, word: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let first = word.chars().next();
    let last = word.chars().next_back();
    (!alnum(first) || !alnum(text[..start].chars().next_back())) && (!alnum(last) || !alnum(text[end..].chars().next()))
}

fn starts_with_at(text: &str, at: usize, word: &str) -> bool {
    !word.is_empty() && text[at..].starts_with(word) && at_boundary(text, at, at + word.len(), word)
}

fn ends_with_at(text: &str, end: usize, word: &str) -> bool {
    !word.is_empty()
        && end >= word.len()
        && text[..end].ends_with(word)
        && at_boundary(text, end - word.len(), end, word)
}

fn next_char(text: &str, at: usize) -> usize {
    at + text[at..].chars().next().map_or(1, char::len_utf8)
}

/// At most this many modifiers in a chain; more is no longer one phrase.
const MAX_CHAIN: usize = 6;

impl<'a> Reader<'a> {
    pub fn new(modifiers: &'a Modifiers) -> Reader<'a> {
        Reader { modifiers }
    }

    fn modifier_lists(&self) -> [(&'a [String], Kind); 5] {
        let m = self.modifiers;
        [
            (m.negators.as_slice(), Kind::Negator),
            (m.strong.as_slice(), Kind::Degree(Degree::Strong)),
            (m.mild.as_slice(), Kind::Degree(Degree::Mild)),
            (m.hedges.as_slice(), Kind::Degree(Degree::Hedge)),
            (m.fillers.as_slice(), Kind::Filler),
        ]
    }

    /// The longest modifier matching with `fits`.
    fn longest_modifier(&self, fits: impl Fn(&str) -> bool) -> Option<(usize, Kind)> {
        self.modifier_lists()
            .into_iter()
            .flat_map(|(words, kind)| words.iter().map(move |w| (w, kind)))
            .filter(|(w, _)| fits(w))
            .max_by_key(|(w, _)| w.len())
            .map(|(w, kind)| (w.len(), kind))
    }

    fn is_modifier(&self, word: &str) -> bool {
        self.modifier_lists()
            .iter()
            .any(|(words, _)| words.iter().any(|w| w == word))
    }

    fn longest_word_at<'w, T: Copy>(&self, text: &str, at: usize, words: &'w [(String, T)]) -> Option<&'w (String, T)> {
        words
            .iter()
            .filter(|(w, _)| starts_with_at(text, at, w))
            .max_by_key(|(w, _)| w.len())
    }

    /// Whether a word of the list follows `at`, through modifiers only.
    fn word_follows<T: Copy>(&self, text: &str, mut at: usize, words: &[(String, T)]) -> bool {
        for _ in 0..MAX_CHAIN {
            if at >= text.len() {
                return false;
            }
            if self.longest_word_at(text, at, words).is_some() {
                return true;
            }
            match self.longest_modifier(|w| starts_with_at(text, at, w)) {
                Some((len, _)) => at += len,
                None => return false,
            }
        }
        false
    }

    /// Every word of `words` in `text`, left to right, with its modifiers. A word that is
    /// also a modifier (好 in 好满意, 不 in 不急) is read as the modifier when a word follows.
    pub fn find_all<T: Copy>(&self, text: &str, words: &[(String, T)]) -> Vec<Found<T>> {
        let mut found = Vec::new();
        let mut at = 0;
        while at < text.len() {
            let Some((word, value)) = self.longest_word_at(text, at, words) else {
                at = next_char(text, at);
                continue;
            };
            let end = at + word.len();
            if self.is_modifier(word) && self.word_follows(text, end, words) {
                at = next_char(text, at);
                continue;
            }
            found.push(self.surroundings(text, at, end, *value));
            at = end;
        }
        found
    }

    fn surroundings<T>(&self, text: &str, word_start: usize, end: usize, value: T) -> Found<T> {
        let mut chain = Vec::new();
        let mut start = word_start;
        for _ in 0..MAX_CHAIN {
            match self.longest_modifier(|w| ends_with_at(text, start, w)) {
                Some((len, kind)) => {
                    chain.push(kind);
                    start -= len;
                }
                None => break,
            }
        }
        // `chain` runs from the word outwards: the nearest modifier first.
        let n_negations = chain.iter().filter(|k| **k == Kind::Negator).count();
        let outermost_negator = chain.iter().rposition(|k| *k == Kind::Negator);
        let degree = |kinds: &[Kind]| {
            kinds.iter().find_map(|k| match k {
                Kind::Degree(d) => Some(*d),
                _ => None,
            })
        };
        let (inner, outer) = match outermost_negator {
            Some(i) => (degree(&chain[..i]), degree(&chain[i + 1..])),
            None => (None, degree(&chain)),
        };
        Found {
            value,
            start,
            word_start,
            end,
            n_negations,
            outer,
            inner,
            emphatic: self.emphatic_after(text, end),
        }
    }

    fn emphatic_after(&self, text: &str, mut at: usize) -> bool {
        for _ in 0..3 {
            if at >= text.len() {
                return false;
            }
            if self
                .modifiers
                .emphatic_suffixes
                .iter()
                .any(|w| starts_with_at(text, at, w))
            {
                return true;
            }
            match self.modifiers.fillers.iter().find(|w| starts_with_at(text, at, w)) {
                Some(filler) => at += filler.len(),
                None => return false,
            }
        }
        false
    }
}

/// A message cut into clauses at punctuation (a dot between digits stays: “4.5”).
pub(crate) fn clauses(message: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = message.char_indices().collect();
    let mut out = Vec::new();
    let mut begin = 0;
    for (i, (at, c)) in chars.iter().enumerate() {
        let digit = |j: Option<&(usize, char)>| j.is_some_and(|(_, c)| c.is_ascii_digit());
        let cut = "，,。！!？?；;、\n～~…".contains(*c)
            || (*c == '.' && !(i > 0 && digit(chars.get(i - 1)) && digit(chars.get(i + 1))));
        if cut {
            out.push(&message[begin..*at]);
            begin = at + c.len_utf8();
        }
    }
    out.push(&message[begin..]);
    out.into_iter().map(str::trim).filter(|c| !c.is_empty()).collect()
}

/// Han characters and ASCII words: how much a clause says.
pub(crate) fn n_units(text: &str) -> usize {
    let han = text.chars().filter(|c| !c.is_ascii() && c.is_alphanumeric()).count();
    let ascii_words = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .count();
    han + ascii_words
}

/// A word list with values, for [`Reader::find_all`].
pub(crate) fn listed<T: Copy>(words: &[String], value: T) -> Vec<(String, T)> {
    words.iter().map(|w| (w.clone(), value)).collect()
}
