//! The search index over the guides: tantivy with a Chinese analyser, weighted fields, lexicon
//! expansion, a pinyin field for homophone typos, and highlighted snippets.
//!
//! Key design decision: the query is built from the analyser's own terms (a boolean query of
//! term queries, one per field with its weight), never through tantivy's `QueryParser`, which
//! would turn an unspaced Chinese query into a phrase query. Besides the BM25 score each hit
//! carries a *coverage*: the share of the query's information (idf-weighted terms) that the
//! guide contains, which the dialogue uses to tell a real match from a look-alike.

mod analyzer;
pub mod dense;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use jieba_rs::Jieba;
use knowledge::{Corpus, Guide, Lexicon};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{Index, IndexReader, TantivyDocument, Term, doc};

pub use analyzer::{Segmentation, ZhTokenizer, is_stopword, normalize, pinyin_terms};

const ZH: &str = "zh";
const PINYIN: &str = "pinyin";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("index error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("cannot prepare index folder {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Weights of the fields (BM25 scores are summed across fields).
#[derive(Debug, Clone, Copy)]
pub struct FieldWeights {
    pub title: f32,
    pub aliases: f32,
    pub faq: f32,
    pub body: f32,
    pub pinyin: f32,
}

impl Default for FieldWeights {
    fn default() -> Self {
        FieldWeights {
            title: 3.0,
            aliases: 2.5,
            faq: 1.2,
            body: 1.0,
            pinyin: 0.6,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct IndexConfig {
    pub segmentation: Segmentation,
    pub weights: FieldWeights,
}

/// One guide found for a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub title: String,
    /// BM25 score summed over fields (not comparable across queries).
    pub score: f32,
    /// Share (0..=1) of the query's idf-weighted terms that this guide contains.
    pub coverage: f32,
    /// A fragment of the guide's text with the matched terms in `<b>…</b>`.
    pub snippet: String,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    title: Field,
    aliases: Field,
    faq: Field,
    body: Field,
    pinyin: Field,
}

/// The index of one corpus. Immutable once built: a changed corpus gets a new index, which
/// the server swaps in atomically.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    tokenizer: ZhTokenizer,
    lexicon: Lexicon,
    config: IndexConfig,
    /// Every term of every guide (all fields), for coverage.
    doc_terms: HashMap<String, HashSet<String>>,
    /// The text of each guide's title, aliases, summary and FAQ questions, normalised: what
    /// the guide is about, as opposed to everything it mentions.
    scope_text: HashMap<String, String>,
    /// Each guide's whole text, normalised.
    full_text: HashMap<String, String>,
    doc_freq: HashMap<String, u32>,
    n_docs: usize,
    /// All the guides' text, normalised, and its pinyin, for [`SearchIndex::mentions`].
    all_text: String,
    all_pinyin: String,
    /// The words of titles, aliases and the lexicon by their toneless sound (" di bao "), for
    /// correcting homophone typos typed with a pinyin keyboard.
    sounds: HashMap<String, Vec<String>>,
    /// Every run of 2 to 4 characters of `all_text`, for [`SearchIndex::correct`] (scanning
    /// the whole text for each window of a query cost milliseconds a turn).
    short_runs: HashSet<String>,
    /// Titles, aliases and lexicon terms, normalised: the names of what the guides are for.
    names: String,
}

impl SearchIndex {
    /// Builds the index in memory, or in `dir` (emptied first) when given.
    pub fn build(corpus: &Corpus, config: IndexConfig, dir: Option<&Path>) -> Result<SearchIndex> {
        let mut jieba = Jieba::new();
        for word in dictionary_words(corpus) {
            jieba.add_word(&word, Some(2000), None);
        }
        let tokenizer = ZhTokenizer::new(Arc::new(jieba), config.segmentation);

        let mut schema = Schema::builder();
        let text = |stored: bool| {
            let options = TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(ZH)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            );
            if stored { options.set_stored() } else { options }
        };
        let fields = Fields {
            id: schema.add_text_field("id", STRING | STORED),
            title: schema.add_text_field("title", text(true)),
            aliases: schema.add_text_field("aliases", text(false)),
            faq: schema.add_text_field("faq", text(false)),
            body: schema.add_text_field("body", text(true)),
            pinyin: schema.add_text_field(
                "pinyin",
                TextOptions::default().set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer(PINYIN)
                        .set_index_option(IndexRecordOption::WithFreqs),
                ),
            ),
        };
        let schema = schema.build();
        let index = match dir {
            Some(dir) => {
                if dir.exists() {
                    std::fs::remove_dir_all(dir).map_err(|source| Error::Io {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
                std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                    path: dir.display().to_string(),
                    source,
                })?;
                Index::create_in_dir(dir, schema)?
            }
            None => Index::create_in_ram(schema),
        };
        index.tokenizers().register(ZH, tokenizer.clone());
        index
            .tokenizers()
            .register(PINYIN, analyzer::PinyinTokenizer::default());

        let mut writer = index.writer_with_num_threads(1, 50_000_000)?;
        let mut doc_terms = HashMap::new();
        let mut scope_text = HashMap::new();
        let mut full_text: HashMap<String, String> = HashMap::new();
        let mut all_text = String::new();
        let mut doc_freq: HashMap<String, u32> = HashMap::new();
        for guide in &corpus.guides {
            let faq: Vec<&str> = guide.faq.iter().map(|f| f.q.as_str()).collect();
            let aliases = guide.aliases.join("\n");
            let body = guide.body_text();
            writer.add_document(doc!(
                fields.id => guide.id.clone(),
                fields.title => guide.title.clone(),
                fields.aliases => aliases.clone(),
                fields.faq => faq.join("\n"),
                fields.body => body.clone(),
                fields.pinyin => format!("{}\n{}", guide.title, aliases),
            ))?;
            let mut text = String::new();
            for part in [guide.title.as_str(), aliases.as_str(), &faq.join("\n"), &body] {
                text.push_str(&normalize(part));
                text.push('\n');
            }
            all_text.push_str(&text);
            full_text.insert(guide.id.clone(), text);
            scope_text.insert(
                guide.id.clone(),
                normalize(&format!(
                    "{}\n{}\n{}\n{}",
                    guide.title,
                    aliases,
                    guide.summary,
                    faq.join("\n")
                )),
            );
            let mut terms: HashSet<String> = HashSet::new();
            for part in [guide.title.as_str(), aliases.as_str(), &faq.join("\n"), &body] {
                terms.extend(tokenizer.analyze(part).into_iter().map(|t| t.text));
            }
            for term in &terms {
                *doc_freq.entry(term.clone()).or_default() += 1;
            }
            doc_terms.insert(guide.id.clone(), terms);
        }
        writer.commit()?;
        let reader = index.reader()?;
        for (colloquial, official) in corpus.lexicon.pairs() {
            all_text.push_str(colloquial);
            all_text.push('\n');
            all_text.push_str(official);
            all_text.push('\n');
        }
        let all_pinyin = pinyin_line(&all_text);
        let mut names = String::new();
        for guide in &corpus.guides {
            names.push_str(&normalize(&guide.title));
            names.push('\n');
            for alias in &guide.aliases {
                names.push_str(&normalize(alias));
                names.push('\n');
            }
        }
        for (colloquial, official) in corpus.lexicon.pairs() {
            names.push_str(&format!("{colloquial}\n{}\n", normalize(official)));
        }
        let all_chars: Vec<char> = all_text.chars().collect();
        let mut short_runs: HashSet<String> = HashSet::new();
        for len in 2..=4 {
            for window in all_chars.windows(len) {
                if window.iter().all(|c| analyzer::is_cjk(*c)) {
                    short_runs.insert(window.iter().collect());
                }
            }
        }
        let mut sounds: HashMap<String, Vec<String>> = HashMap::new();
        let title_words = corpus.guides.iter().flat_map(|g| {
            std::iter::once(&g.title)
                .chain(&g.aliases)
                .flat_map(|name| tokenizer.search_words(name))
                .collect::<Vec<_>>()
        });
        // Official lexicon terms, not colloquial ones: those include typos and traditional forms.
        let official_words = corpus
            .lexicon
            .pairs()
            .flat_map(|(_, official)| official.split_whitespace());
        for word in official_words.map(str::to_string).chain(title_words) {
            if word.chars().count() >= 2 && word.chars().all(analyzer::is_cjk) {
                let entry = sounds.entry(pinyin_line(&word)).or_default();
                if !entry.contains(&word) {
                    entry.push(word);
                }
            }
        }
        Ok(SearchIndex {
            index,
            reader,
            fields,
            tokenizer,
            lexicon: corpus.lexicon.clone(),
            config,
            doc_terms,
            scope_text,
            full_text,
            doc_freq,
            n_docs: corpus.guides.len(),
            all_text,
            all_pinyin,
            sounds,
            short_runs,
            names,
        })
    }

    pub fn n_docs(&self) -> usize {
        self.n_docs
    }

    pub fn config(&self) -> IndexConfig {
        self.config
    }

    /// Whether the guides (or the lexicon) mention `phrase`, literally or, for Chinese, by
    /// sound (so 残急证 is recognised as 残疾证).
    pub fn mentions(&self, phrase: &str) -> bool {
        let phrase = normalize(phrase);
        if phrase.is_empty() || self.all_text.contains(&phrase) {
            return true;
        }
        let sound = pinyin_line(&phrase);
        sound.trim().split(' ').count() >= 3 && self.all_pinyin.contains(&sound)
    }

    /// The query with homophone typos corrected (低报 → 低保, 护找 → 护照): a run of two to four
    /// Chinese characters that no guide contains and the dictionary does not know is replaced
    /// by the one word of the guides' titles, aliases or lexicon that sounds the same. Returns
    /// `None` when nothing was corrected.
    pub fn correct(&self, query: &str) -> Option<String> {
        let normalized = normalize(query);
        let chars: Vec<char> = normalized.chars().collect();
        // A window must not cut through a word the dictionary knows (老人|政府 is not 人政).
        let mut word_of = vec![0usize; chars.len()];
        let mut at = 0;
        for (n, word) in self.tokenizer.cut(&normalized).into_iter().enumerate() {
            let len = word.chars().count();
            let known = len >= 2 && self.tokenizer.knows(&word);
            for slot in word_of.iter_mut().skip(at).take(len) {
                *slot = if known { n + 1 } else { 0 };
            }
            at += len;
        }
        let cuts_a_word = |from: usize, to: usize| {
            (from > 0 && word_of[from] != 0 && word_of[from] == word_of[from - 1])
                || (to < chars.len() && word_of[to - 1] != 0 && word_of[to - 1] == word_of[to])
        };
        let mut out = String::new();
        let mut changed = false;
        let mut i = 0;
        'outer: while i < chars.len() {
            for len in (2..=4).rev() {
                let Some(window) = chars.get(i..i + len) else {
                    continue;
                };
                if !window.iter().all(|c| analyzer::is_cjk(*c)) || cuts_a_word(i, i + len) {
                    continue;
                }
                let window: String = window.iter().collect();
                if self.short_runs.contains(&window) || self.tokenizer.knows(&window) {
                    continue;
                }
                if let Some([word]) = self.sounds.get(&pinyin_line(&window)).map(Vec::as_slice) {
                    out.push_str(word);
                    changed = true;
                    i += len;
                    continue 'outer;
                }
            }
            out.push(chars[i]);
            i += 1;
        }
        changed.then_some(out)
    }

    /// Whether a guide's title or alias, or a lexicon term, contains `word` (normalised).
    pub fn names(&self, word: &str) -> bool {
        let word = normalize(word);
        !word.is_empty() && self.names.contains(&word)
    }

    /// Whether guide `id`'s title, aliases, summary or FAQ questions contain `phrase`
    /// (normalised), literally.
    pub fn in_scope(&self, id: &str, phrase: &str) -> bool {
        self.scope_text
            .get(id)
            .is_some_and(|text| text.contains(&normalize(phrase)))
    }

    /// The lexicon's official terms for the colloquial terms in `text` (驾照 → 机动车驾驶证).
    pub fn official_terms(&self, text: &str) -> Vec<&str> {
        self.lexicon.expansions(text)
    }

    /// Whether guide `id` contains `phrase` anywhere (normalised), literally.
    pub fn guide_mentions(&self, id: &str, phrase: &str) -> bool {
        self.full_text
            .get(id)
            .is_some_and(|text| text.contains(&normalize(phrase)))
    }

    /// How many guides contain `phrase` anywhere (normalised), literally: its document
    /// frequency, for weighing how specific a word is.
    pub fn guides_mentioning(&self, phrase: &str) -> usize {
        let phrase = normalize(phrase);
        if phrase.is_empty() {
            return 0;
        }
        self.full_text.values().filter(|text| text.contains(&phrase)).count()
    }

    /// The words of a text as the segmenter cuts it (whole words, no bigrams), stop words
    /// and single characters removed.
    pub fn words(&self, text: &str) -> Vec<String> {
        self.tokenizer.words(text)
    }

    /// The pieces of a text with their parts of speech (see [`ZhTokenizer::tagged`]).
    pub fn tagged(&self, text: &str) -> Vec<(String, String)> {
        self.tokenizer.tagged(text)
    }

    /// The analyser's terms for a text (as the index sees it).
    pub fn terms(&self, text: &str) -> Vec<String> {
        self.tokenizer.analyze(text).into_iter().map(|t| t.text).collect()
    }

    /// Finds the guides for a query, best first, at most `limit`, with highlighted snippets.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Hit>> {
        self.search_with(query, limit, true)
    }

    /// The same without snippets (empty): the dialogue ranks guides and never shows them,
    /// and a snippet re-analyses the guide's whole text (half the time of a turn, measured).
    pub fn rank(&self, query: &str, limit: usize) -> Result<Vec<Hit>> {
        self.search_with(query, limit, false)
    }

    fn search_with(&self, query: &str, limit: usize, with_snippets: bool) -> Result<Vec<Hit>> {
        let query_terms = self.query_terms(query);
        if query_terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let weights = self.config.weights;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for term in query_terms.iter().flat_map(|group| group.terms.iter()) {
            if !seen.insert(term) {
                continue;
            }
            for (field, weight) in [
                (self.fields.title, weights.title),
                (self.fields.aliases, weights.aliases),
                (self.fields.faq, weights.faq),
                (self.fields.body, weights.body),
            ] {
                clauses.push((Occur::Should, boosted(Term::from_field_text(field, term), weight)));
            }
        }
        for term in pinyin_terms(query) {
            clauses.push((
                Occur::Should,
                boosted(Term::from_field_text(self.fields.pinyin, &term), weights.pinyin),
            ));
        }
        let boolean = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let top = searcher.search(&boolean, &TopDocs::with_limit(limit).order_by_score())?;
        let snippets = match with_snippets {
            true => {
                let mut generator = SnippetGenerator::create(&searcher, &boolean, self.fields.body)?;
                generator.set_max_num_chars(80);
                Some(generator)
            }
            false => None,
        };
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let document: TantivyDocument = searcher.doc(address)?;
            let text = |field: Field| {
                document
                    .get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let id = text(self.fields.id);
            let coverage = self.coverage(&id, &query_terms);
            hits.push(Hit {
                title: text(self.fields.title),
                score,
                coverage,
                snippet: snippets
                    .as_ref()
                    .map(|g| g.snippet_from_doc(&document).to_html())
                    .unwrap_or_default(),
                id,
            });
        }
        Ok(hits)
    }

    /// The query's terms grouped: a term of the query stands alone, except that the terms
    /// inside a colloquial phrase form one group with the official terms it expands to.
    fn query_terms(&self, query: &str) -> Vec<TermGroup> {
        let normalized = normalize(query);
        let matches = self.lexicon.matches(&normalized);
        let tokens = self.tokenizer.analyze(&normalized);
        let mut groups: Vec<TermGroup> = Vec::new();
        for (span, official) in &matches {
            let mut terms: Vec<String> = tokens
                .iter()
                .filter(|t| t.offset_from >= span.start && t.offset_to <= span.end)
                .map(|t| t.text.clone())
                .collect();
            terms.extend(self.terms(official));
            terms.dedup();
            if !terms.is_empty() {
                groups.push(TermGroup { terms, expanded: true });
            }
        }
        for token in &tokens {
            let inside = matches
                .iter()
                .any(|(span, _)| token.offset_from >= span.start && token.offset_to <= span.end);
            if !inside && !groups.iter().any(|g| !g.expanded && g.terms[0] == token.text) {
                groups.push(TermGroup {
                    terms: vec![token.text.clone()],
                    expanded: false,
                });
            }
        }
        groups
    }

    fn idf(&self, term: &str) -> f32 {
        let df = self.doc_freq.get(term).copied().unwrap_or(0) as f32;
        let n = self.n_docs as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    /// idf-weighted share of the query's term groups found in the guide. A group counts as
    /// found when the guide has any of its terms; its weight is its rarest term's idf.
    fn coverage(&self, id: &str, groups: &[TermGroup]) -> f32 {
        let Some(terms) = self.doc_terms.get(id) else {
            return 0.0;
        };
        let mut total = 0.0;
        let mut found = 0.0;
        for group in groups {
            // A colloquial group is as informative as the query words it replaced.
            let weight = group.terms.iter().map(|t| self.idf(t)).fold(0.0, f32::max);
            total += weight;
            if group.terms.iter().any(|t| terms.contains(t)) {
                found += weight;
            }
        }
        if total == 0.0 { 0.0 } else { found / total }
    }
}

struct TermGroup {
    terms: Vec<String>,
    expanded: bool,
}

/// " syl syl syl " for the CJK characters of `text`; other characters become a separator.
/// Syllables are folded as a pinyin keyboard's fuzzy mode does (zh/ch/sh → z/c/s, -ng → -n),
/// so 出身登记 sounds like 出生登记.
fn pinyin_line(text: &str) -> String {
    use pinyin::ToPinyin;
    let mut line = String::from(" ");
    for c in text.chars() {
        match c.to_pinyin() {
            Some(p) => {
                let syllable = p.plain();
                let syllable = ["zh", "ch", "sh"]
                    .iter()
                    .find_map(|initial| syllable.strip_prefix(initial).map(|rest| (&initial[..1], rest)))
                    .map_or_else(|| syllable.to_string(), |(initial, rest)| format!("{initial}{rest}"));
                line.push_str(
                    syllable
                        .strip_suffix('g')
                        .filter(|s| s.ends_with('n'))
                        .unwrap_or(&syllable),
                );
                line.push(' ');
            }
            None => {
                if !line.ends_with("| ") {
                    line.push_str("| ");
                }
            }
        }
    }
    line
}

fn boosted(term: Term, weight: f32) -> Box<dyn Query> {
    Box::new(BoostQuery::new(
        Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
        weight,
    ))
}

/// Words the segmenter should keep whole: the lexicon's terms and the guides' aliases.
fn dictionary_words(corpus: &Corpus) -> Vec<String> {
    let mut words: Vec<String> = corpus.lexicon.words().map(str::to_string).collect();
    words.extend(
        corpus
            .guides
            .iter()
            .flat_map(|g: &Arc<Guide>| g.aliases.iter().cloned()),
    );
    words.retain(|w| {
        let n = w.chars().count();
        (2..=6).contains(&n) && w.chars().all(analyzer::is_cjk)
    });
    words.sort();
    words.dedup();
    words
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("n_docs", &self.n_docs)
            .field("config", &self.config)
            .finish()
    }
}

/// Kept for callers that need the tantivy index itself (statistics, inspection).
impl SearchIndex {
    pub fn tantivy(&self) -> &Index {
        &self.index
    }
}
