//! Colloquial → official terms (驾照 → 机动车驾驶证). The index appends the official terms of
//! every colloquial term found in a query, so "驾照到期" also matches guides that only say
//! "机动车驾驶证".

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Term {
    pub official: String,
    pub colloquial: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    /// (colloquial in lowercase, official), longest colloquial first so that the longest
    /// match wins when one term contains another.
    pairs: Vec<(String, String)>,
}

impl Lexicon {
    pub fn new(terms: &[Term]) -> Lexicon {
        let mut pairs: Vec<(String, String)> = terms
            .iter()
            .flat_map(|term| {
                term.colloquial
                    .iter()
                    .map(|c| (c.to_lowercase(), term.official.clone()))
            })
            .filter(|(c, _)| !c.trim().is_empty())
            .collect();
        pairs.sort_by(|a, b| b.0.chars().count().cmp(&a.0.chars().count()).then(a.0.cmp(&b.0)));
        Lexicon { pairs }
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The official terms for the colloquial terms found in `text`, each once, longest
    /// matches first; a shorter colloquial term inside an already matched one is not counted.
    pub fn expansions(&self, text: &str) -> Vec<&str> {
        let mut found: Vec<&str> = Vec::new();
        for (_, official) in self.matches(&text.to_lowercase()) {
            if !found.contains(&official) {
                found.push(official);
            }
        }
        found
    }

    /// Every colloquial term found in `text` (already lowercase) with its byte range and
    /// official term, longest first; a match inside an earlier, longer one is dropped.
    pub fn matches<'a>(&'a self, text: &str) -> Vec<(std::ops::Range<usize>, &'a str)> {
        let mut covered = vec![false; text.len()];
        let mut found = Vec::new();
        for (colloquial, official) in &self.pairs {
            let mut start = 0;
            while let Some(pos) = text[start..].find(colloquial.as_str()) {
                let begin = start + pos;
                let end = begin + colloquial.len();
                start = end;
                if covered[begin..end].iter().all(|c| *c) {
                    continue;
                }
                if is_ascii_word(colloquial) && !word_boundary(text, begin, end) {
                    continue;
                }
                covered[begin..end].iter_mut().for_each(|c| *c = true);
                found.push((begin..end, official.as_str()));
            }
        }
        found
    }

    /// (colloquial, official) pairs, longest colloquial first.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(c, o)| (c.as_str(), o.as_str()))
    }

    /// Every colloquial and official word, for the segmenter's dictionary.
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.pairs
            .iter()
            .flat_map(|(c, o)| std::iter::once(c.as_str()).chain(o.split_whitespace()))
    }
}

fn is_ascii_word(term: &str) -> bool {
    term.is_ascii()
}

/// English terms must match whole words: "id" must not fire inside "idea".
fn word_boundary(text: &str, begin: usize, end: usize) -> bool {
    let before = text[..begin]
        .chars()
        .next_back()
        .is_none_or(|c| !c.is_ascii_alphanumeric());
    let after = text[end..].chars().next().is_none_or(|c| !c.is_ascii_alphanumeric());
    before && after
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon() -> Lexicon {
        Lexicon::new(&[
            Term {
                official: "机动车驾驶证".into(),
                colloquial: vec!["驾照".into(), "驾驶证".into()],
            },
            Term {
                official: "住房公积金".into(),
                colloquial: vec!["公积金".into()],
            },
            Term {
                official: "住房公积金 贷款".into(),
                colloquial: vec!["公积金贷款".into()],
            },
            Term {
                official: "居民身份证".into(),
                colloquial: vec!["id card".into()],
            },
        ])
    }

    #[test]
    fn longest_colloquial_term_wins() {
        assert_eq!(lexicon().expansions("公积金贷款能贷多少"), vec!["住房公积金 贷款"]);
    }

    #[test]
    fn each_official_term_once() {
        assert_eq!(lexicon().expansions("驾照 驾照 驾驶证"), vec!["机动车驾驶证"]);
    }

    #[test]
    fn english_terms_match_whole_words_only() {
        assert_eq!(lexicon().expansions("lost my ID card"), vec!["居民身份证"]);
        assert!(lexicon().expansions("valid cardholder").is_empty());
    }
}
