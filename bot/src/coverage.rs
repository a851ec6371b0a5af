//! Whether a guide covers the specific thing a message asks: not whether the message looks
//! like a request for a service (the intent head answers that), but whether *this* guide
//! offers *this* service, or only one next to it (a different document of the same family,
//! another beneficiary group, another stage of the same process).
//!
//! A small logistic model on a few features of a (message, guide) pair, learned from the
//! corpus alone, leave-one-out: each guide's aliases, FAQ questions and English summary are
//! asked of that guide (covered) and, with that guide taken out of the corpus, of the guide
//! that then comes first (not covered: a realistic look-alike with a real neighbour, as a
//! city that lacks that guide would see it). The look-alikes of [`crate::lookalikes`]
//! (another action on an object of the same department) are further negatives. Nothing here
//! is a word list: an operator who adds a guide for a look-alike makes its questions covered
//! at the next start, when the model is retrained on the new corpus.

use index::dense::DenseIndex;
use knowledge::Corpus;
use models::heads::{LinearHead, TrainConfig};

/// The features, in the model's order (for `banshi eval --features`).
pub const FEATURES: [&str; 8] = [
    "dense",
    "margin",
    "scope",
    "all",
    "miss_known",
    "miss_unknown",
    "miss_next_to_scope",
    "latin",
];

/// Query vectors for texts (through the embedding cache).
pub type Embed<'a> = dyn FnMut(&[&str]) -> models::Result<Vec<Vec<f32>>> + 'a;

/// A piece of what a guide says it is about: left out when it is itself the question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    Title,
    Alias(usize),
    Faq(usize),
    Summary,
    SummaryEn,
}

impl Piece {
    /// The dense chunk that holds this piece, by its section name.
    fn section(self) -> Option<String> {
        match self {
            Piece::Alias(_) => Some("aliases".into()),
            Piece::Faq(i) => Some(format!("faq:{}", i + 1)),
            Piece::Title | Piece::Summary | Piece::SummaryEn => None,
        }
    }
}

/// One guide's text, normalised: its scope piece by piece, and everything else.
#[derive(Debug)]
struct GuideText {
    id: String,
    /// Bundles it belongs to or members it has: never each other's look-alikes.
    related: Vec<String>,
    scope: Vec<(Piece, String)>,
    body: String,
}

impl GuideText {
    fn has(&self, word: &str, skip: Option<Piece>) -> (bool, bool) {
        let in_scope = self
            .scope
            .iter()
            .any(|(piece, text)| Some(*piece) != skip && text.contains(word));
        (in_scope, in_scope || self.body.contains(word))
    }
}

/// The coverage model and the corpus text it reads.
#[derive(Debug)]
pub struct Coverage {
    texts: Texts,
    head: LinearHead,
    /// Pairs it was trained on: covered, not covered.
    pub trained_on: (usize, usize),
}

/// A question asked of a guide while training.
struct Asked {
    text: String,
    guide: usize,
    piece: Piece,
}

impl Coverage {
    /// Learns the model from `corpus`; `embed` gives query vectors (through the cache).
    pub fn train(
        corpus: &Corpus,
        index: &index::SearchIndex,
        dense: &DenseIndex,
        embed: &mut Embed<'_>,
    ) -> models::Result<Option<Coverage>> {
        let texts = Texts::new(guide_texts(corpus));
        let mut asked: Vec<Asked> = Vec::new();
        for (g, guide) in corpus.guides.iter().enumerate() {
            let pieces = guide
                .aliases
                .iter()
                .enumerate()
                .map(|(i, a)| (Piece::Alias(i), a.clone()))
                .chain(guide.faq.iter().enumerate().map(|(i, f)| (Piece::Faq(i), f.q.clone())))
                .chain(guide.summary_en.iter().map(|s| (Piece::SummaryEn, s.clone())));
            for (piece, text) in pieces {
                asked.push(Asked { text, guide: g, piece });
            }
        }
        let lookalikes = crate::lookalikes::generate(corpus, index);
        let questions: Vec<&str> = asked
            .iter()
            .map(|a| a.text.as_str())
            .chain(lookalikes.iter().map(String::as_str))
            .collect();
        if questions.is_empty() {
            return Ok(None);
        }
        let vectors = embed(&questions)?;
        let mut examples: Vec<(String, Vec<f32>)> = Vec::new();
        for (a, vector) in asked.iter().zip(&vectors) {
            let scores = dense.chunk_scores(vector);
            let id = texts.guides[a.guide].id.as_str();
            examples.push((
                "covered".into(),
                texts.features_with(index, &scores, &a.text, a.guide, Some(a.piece), None),
            ));
            // The guide that comes first once this one is gone (and is no part of it).
            let excluded = |other: &GuideText| other.id == id || texts.guides[a.guide].related.contains(&other.id);
            if let Some(next) = texts.best_guide(&scores, |g| !excluded(g)) {
                examples.push((
                    "other".into(),
                    texts.features_with(index, &scores, &a.text, next, None, Some(id)),
                ));
            }
        }
        for (text, vector) in lookalikes.iter().zip(&vectors[asked.len()..]) {
            let scores = dense.chunk_scores(vector);
            if let Some(top) = texts.best_guide(&scores, |_| true) {
                examples.push((
                    "other".into(),
                    texts.features_with(index, &scores, text, top, None, None),
                ));
            }
        }
        let covered = examples.iter().filter(|(l, _)| l == "covered").count();
        let trained_on = (covered, examples.len() - covered);
        if covered == 0 || covered == examples.len() {
            return Ok(None);
        }
        let head = LinearHead::train(
            &examples,
            TrainConfig {
                standardize: true,
                ..TrainConfig::default()
            },
        )?;
        Ok(Some(Coverage {
            texts,
            head,
            trained_on,
        }))
    }

    /// The probability that guide `id` covers what `text` asks (`vector` is its embedding).
    pub fn p_covered(
        &self,
        index: &index::SearchIndex,
        dense: &DenseIndex,
        text: &str,
        vector: &[f32],
        id: &str,
    ) -> f32 {
        self.features(index, dense, text, vector, id)
            .map_or(1.0, |x| self.probability(&x))
    }

    /// The features of (`text`, guide `id`), in the order of [`FEATURES`].
    pub fn features(
        &self,
        index: &index::SearchIndex,
        dense: &DenseIndex,
        text: &str,
        vector: &[f32],
        id: &str,
    ) -> Option<Vec<f32>> {
        let g = *self.texts.by_id.get(id)?;
        let scores = dense.chunk_scores(vector);
        Some(self.texts.features_with(index, &scores, text, g, None, None))
    }

    /// The probability of "covered" for features made by [`Coverage::features`].
    pub fn probability(&self, x: &[f32]) -> f32 {
        let p = self.head.probabilities(x);
        self.head
            .labels
            .iter()
            .position(|l| l == "covered")
            .and_then(|i| p.get(i).copied())
            .unwrap_or(1.0)
    }
}

/// The corpus's guides as the model reads them.
#[derive(Debug)]
struct Texts {
    guides: Vec<GuideText>,
    /// Each guide's position in `guides`, by id.
    by_id: std::collections::HashMap<String, usize>,
    all: AllText,
}

/// All the guides' text in one string (each guide's pieces joined by a separator no word
/// contains), so that which guides hold a word is one fast substring search instead of one
/// per guide and piece.

#[derive(Debug)]
struct AllText {
    text: String,
    /// Byte offset where each guide's text starts.
    starts: Vec<usize>,
}

const SEPARATOR: char = '\u{1}';

impl AllText {
    fn new(guides: &[GuideText]) -> AllText {
        let mut text = String::new();
        let mut starts = Vec::with_capacity(guides.len());
        for guide in guides {
            starts.push(text.len());
            for (_, piece) in &guide.scope {
                text.push_str(piece);
                text.push(SEPARATOR);
            }
            text.push_str(&guide.body);
            text.push(SEPARATOR);
        }
        AllText { text, starts }
    }

    /// Whether each guide holds `word` anywhere (`out[g]` is set for those that do).
    fn holders(&self, word: &str, out: &mut [bool]) {
        if word.is_empty() {
            return;
        }
        let finder = memchr::memmem::Finder::new(word.as_bytes());
        let bytes = self.text.as_bytes();
        let mut at = 0;
        while let Some(found) = finder.find(&bytes[at..]) {
            let g = self.starts.partition_point(|&start| start <= at + found) - 1;
            if let Some(slot) = out.get_mut(g) {
                *slot = true;
            }
            // The next guide: one match is enough for this one.
            match self.starts.get(g + 1) {
                Some(&next) => at = next,
                None => break,
            }
        }
    }
}

impl Texts {
    fn new(guides: Vec<GuideText>) -> Texts {
        let by_id = guides
            .iter()
            .enumerate()
            .map(|(g, guide)| (guide.id.clone(), g))
            .collect();
        let all = AllText::new(&guides);
        Texts { guides, by_id, all }
    }

    /// The guide (its position) whose best chunk scores highest, among those `keep` lets in.
    fn best_guide(&self, scores: &[(&index::dense::Chunk, f32)], keep: impl Fn(&GuideText) -> bool) -> Option<usize> {
        let mut best: Option<(usize, f32)> = None;
        for (chunk, score) in scores {
            let Some(&g) = self.by_id.get(&chunk.guide_id) else {
                continue;
            };
            if keep(&self.guides[g]) && best.is_none_or(|(_, s)| *score > s) {
                best = Some((g, *score));
            }
        }
        best.map(|(g, _)| g)
    }

    /// The features of the message `text` (chunk cosines `scores`) against guide `g`, with
    /// `skip` left out of the guide (the piece that is the question) and `excluded` out of
    /// the corpus (the guide taken out to make a look-alike).
    fn features_with(
        &self,
        index: &index::SearchIndex,
        scores: &[(&index::dense::Chunk, f32)],
        text: &str,
        g: usize,
        skip: Option<Piece>,
        excluded: Option<&str>,
    ) -> Vec<f32> {
        let guide = &self.guides[g];
        let skipped = skip.and_then(Piece::section);
        let (mut here, mut elsewhere) = (f32::MIN, f32::MIN);
        for (chunk, score) in scores {
            if chunk.guide_id == guide.id {
                if skipped.as_deref() != Some(chunk.section.as_str()) {
                    here = here.max(*score);
                }
            } else if Some(chunk.guide_id.as_str()) != excluded {
                elsewhere = elsewhere.max(*score);
            }
        }
        let here = if here == f32::MIN { 0.0 } else { here };
        let elsewhere = if elsewhere == f32::MIN { 0.0 } else { elsewhere };

        // The corpus the idf is over: without the guide taken out.
        let n = self.guides.iter().filter(|o| Some(o.id.as_str()) != excluded).count() as f32;
        let idf = |df: f32| (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
        let top_idf = idf(0.0);
        let pieces = index.tagged(&index::normalize(text));
        let words = content_words(&pieces);
        let (mut total, mut in_scope, mut in_all, mut miss_known, mut unknown) = (0.0, 0.0, 0.0, 0.0f32, 0usize);
        // Each content word: whether the guide's scope has it, whether the guide has it at all,
        // and its weight.
        let mut found: std::collections::HashMap<&str, (bool, bool, f32)> = std::collections::HashMap::new();
        for word in &words {
            // A colloquial word counts as found where its official term is (驾照 → 机动车驾驶证).
            let forms: Vec<String> = std::iter::once(word.clone())
                .chain(index.official_terms(word).into_iter().map(index::normalize))
                .collect();
            let has = |text: &GuideText, skip: Option<Piece>| {
                forms.iter().fold((false, false), |(s, a), form| {
                    let (s2, a2) = text.has(form, skip);
                    (s || s2, a || a2)
                })
            };
            let (scope_here, all_here) = has(guide, skip);
            let mut holders = vec![false; self.guides.len()];
            for form in &forms {
                self.all.holders(form, &mut holders);
            }
            let df_others = self
                .guides
                .iter()
                .zip(&holders)
                .filter(|(o, held)| **held && o.id != guide.id && Some(o.id.as_str()) != excluded)
                .count() as f32;
            let weight = idf(df_others + f32::from(u8::from(all_here))) / top_idf;
            total += weight;
            found.insert(word.as_str(), (scope_here, all_here, weight));
            if scope_here {
                in_scope += weight;
            }
            if all_here {
                in_all += weight;
            } else if df_others > 0.0 {
                miss_known = miss_known.max(weight);
            } else {
                unknown += 1;
            }
        }
        // A word the guide lacks, right next to one of its scope: a qualifier or an action on
        // what the guide is about (个体户 + 注销 where the guide registers 个体户).
        let mut next_to_scope = 0.0f32;
        for (i, (word, _)) in pieces.iter().enumerate() {
            let Some(&(_, false, weight)) = found.get(word.as_str()) else {
                continue;
            };
            let neighbour_in_scope = [i.checked_sub(1), Some(i + 1)]
                .into_iter()
                .flatten()
                .filter_map(|j| pieces.get(j))
                .any(|(w, _)| found.get(w.as_str()).is_some_and(|f| f.0));
            if neighbour_in_scope {
                next_to_scope = next_to_scope.max(weight);
            }
        }
        let latin = {
            let letters = text.chars().filter(|c| c.is_alphabetic()).count().max(1);
            text.chars().filter(char::is_ascii_alphabetic).count() as f32 / letters as f32
        };
        // Against Chinese guides an English message's words say little: the lexical features
        // fade with the share of Latin letters, and the encoder's carry it.
        let chinese = 1.0 - latin;
        let share = |part: f32| if total > 0.0 { part / total } else { 1.0 };
        vec![
            here,
            here - elsewhere,
            chinese * share(in_scope),
            chinese * share(in_all),
            chinese * miss_known,
            chinese
                * if words.is_empty() {
                    0.0
                } else {
                    unknown as f32 / words.len() as f32
                },
            chinese * next_to_scope,
            latin,
        ]
    }
}

/// The words that say what is asked: two characters or more, nouns, verbs, adjectives and
/// foreign words by the dictionary's tags (not pronouns, adverbs, particles or numbers).
fn content_words(pieces: &[(String, String)]) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for (word, tag) in pieces {
        let content = ["n", "v", "a", "eng", "j", "l", "i"].iter().any(|t| tag.starts_with(t));
        if content
            && word.chars().count() >= 2
            && word.chars().all(char::is_alphanumeric)
            && !index::is_stopword(word)
            && !words.contains(word)
        {
            words.push(word.clone());
        }
    }
    words
}

fn guide_texts(corpus: &Corpus) -> Vec<GuideText> {
    corpus
        .guides
        .iter()
        .map(|guide| {
            let mut scope = vec![
                (Piece::Title, index::normalize(&guide.title)),
                (Piece::Summary, index::normalize(&guide.summary)),
            ];
            scope.extend(
                guide
                    .aliases
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (Piece::Alias(i), index::normalize(a))),
            );
            scope.extend(
                guide
                    .faq
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (Piece::Faq(i), index::normalize(&f.q))),
            );
            if let Some(en) = &guide.summary_en {
                scope.push((Piece::SummaryEn, index::normalize(en)));
            }
            let mut body: Vec<&str> = Vec::new();
            body.extend(guide.conditions.iter().map(String::as_str));
            body.extend(guide.steps.iter().map(String::as_str));
            body.extend(
                guide
                    .materials
                    .iter()
                    .flat_map(|m| std::iter::once(m.name.as_str()).chain(m.note.as_deref())),
            );
            body.extend(guide.fees.iter().flat_map(|f| [f.item.as_str(), f.amount.as_str()]));
            body.extend(guide.faq.iter().map(|f| f.a.as_str()));
            body.extend(guide.legal_basis.iter().map(String::as_str));
            let related = corpus
                .guides
                .iter()
                .filter(|other| other.members.contains(&guide.id) || guide.members.contains(&other.id))
                .map(|other| other.id.clone())
                .collect();
            GuideText {
                id: guide.id.clone(),
                related,
                scope,
                body: index::normalize(&body.join("\n")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guide(id: &str, title: &str, body: &str) -> GuideText {
        GuideText {
            id: id.into(),
            related: Vec::new(),
            scope: vec![(Piece::Title, title.into()), (Piece::Summary, "办理".into())],
            body: body.into(),
        }
    }

    #[test]
    fn one_search_finds_the_guides_each_search_would() {
        let guides = vec![
            guide("a", "居民身份证换领", "户口簿"),
            guide("b", "普通护照申请", "居民身份证 照片"),
            guide("c", "结婚登记", "户口簿 身份证"),
        ];
        let all = AllText::new(&guides);
        for word in ["身份证", "户口簿", "护照", "登记", "办理", "证换", "理户", "离婚", ""] {
            let mut held = vec![false; guides.len()];
            all.holders(word, &mut held);
            let each: Vec<bool> = guides.iter().map(|g| !word.is_empty() && g.has(word, None).1).collect();
            assert_eq!(held, each, "{word}");
        }
    }

    #[test]
    fn content_words_are_what_is_asked_for() {
        let pieces = |words: &[(&str, &str)]| -> Vec<(String, String)> {
            words.iter().map(|(w, t)| (w.to_string(), t.to_string())).collect()
        };
        assert_eq!(
            content_words(&pieces(&[
                ("身份证", "n"),
                ("怎么", "r"),
                ("补领", "v"),
                ("了", "ul"),
                ("身份证", "n")
            ])),
            vec!["身份证", "补领"]
        );
        // Stop words, single characters, numbers and punctuation say nothing.
        assert!(content_words(&pieces(&[("the", "eng"), ("证", "n"), ("两个", "m"), ("，", "x")])).is_empty());
    }
}
