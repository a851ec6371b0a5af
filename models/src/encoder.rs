use std::fmt;
use std::ops::Range;
use std::path::Path;

use candle_core::{Device, Tensor};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::bert::{Activation, Bert, Layer, LayerNorm, LayerWeights, WordTable};
use crate::e5s1::{DType, E5s1};
use crate::error::{InternalError, Result, UserError};
use crate::hf;
use crate::unigram::Unigram;

/// Tokens per forward pass: windows are packed into passes of at most this many tokens (at
/// least one window each), which bounds the activations' memory (about 25 MB for the
/// intermediate layer of e5-small) whatever the batch.
const MAX_TOKENS_PER_PASS: usize = 4096;

/// Which side of a retrieval a text is on; E5 models are trained with a prefix for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextKind {
    /// A user's question: `query: `.
    Query,
    /// A text to be found: `passage: `.
    Passage,
}

impl TextKind {
    fn prefix(self) -> &'static str {
        match self {
            TextKind::Query => "query: ",
            TextKind::Passage => "passage: ",
        }
    }
}

pub(crate) enum Tokenizer {
    /// Built from the vocabulary of an E5S1 file.
    Unigram(Unigram),
    /// A `tokenizer.json`, its truncation and padding turned off.
    Hf(Box<tokenizers::Tokenizer>),
}

impl Tokenizer {
    /// The ids of `text` without special tokens.
    fn content_ids(&self, text: &str) -> Result<Vec<u32>> {
        match self {
            Tokenizer::Unigram(unigram) => Ok(unigram.content_ids(text)),
            Tokenizer::Hf(tokenizer) => {
                let encoding = tokenizer
                    .encode_fast(text, false)
                    .map_err(|error| InternalError::Tokenizer(error.to_string()))?;
                Ok(encoding.get_ids().to_vec())
            }
        }
    }
}

/// What a model format hands to [`Encoder`].
pub(crate) struct Loaded {
    pub bert: Bert,
    pub tokenizer: Tokenizer,
    /// The ids put before and after every window.
    pub bos: u32,
    pub eos: u32,
    pub model_hash: String,
}

/// A loaded sentence encoder. `Send + Sync`: share it behind an `Arc`.
pub struct Encoder {
    bert: Bert,
    tokenizer: Tokenizer,
    bos: u32,
    eos: u32,
    model_hash: String,
    pool: rayon::ThreadPool,
}

impl fmt::Debug for Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoder")
            .field("dim", &self.dim())
            .field("n_layers", &self.bert.layers.len())
            .field("model_hash", &self.model_hash)
            .finish_non_exhaustive()
    }
}

impl Encoder {
    /// Loads an E5S1 model file, or a Hugging Face folder holding `config.json`,
    /// `tokenizer.json` and `model.safetensors` of a BERT or XLM-R encoder.
    pub fn load(path: &Path) -> Result<Encoder> {
        let pool = rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("encoder-{i}"))
            .build()
            .map_err(InternalError::from)?;
        let loaded = pool.install(|| if path.is_dir() { hf::load(path) } else { load_e5s1(path) })?;
        let Loaded {
            bert,
            tokenizer,
            bos,
            eos,
            model_hash,
        } = loaded;
        Ok(Encoder {
            bert,
            tokenizer,
            bos,
            eos,
            model_hash,
            pool,
        })
    }

    /// The length of the embeddings.
    pub fn dim(&self) -> usize {
        self.bert.hidden()
    }

    /// The sha256 of the model file (of config, tokenizer and weights for a folder), in hex:
    /// a key for caches of embeddings.
    pub fn model_hash(&self) -> &str {
        &self.model_hash
    }

    /// The ids the model reads for `text`: `<s>`, the pieces of the prefixed text, `</s>`.
    /// A text longer than one window is embedded in several windows, each with its own
    /// `<s>` and `</s>`; this returns the ids before windowing.
    pub fn token_ids(&self, text: &str, kind: TextKind) -> Vec<u32> {
        // Only a tokenizer.json can fail here (one whose model lacks its unknown token);
        // `embed` reports that error, this returns the special tokens alone.
        let content = self.prefixed_ids(text, kind).unwrap_or_default();
        let mut ids = Vec::with_capacity(content.len() + 2);
        ids.push(self.bos);
        ids.extend(content);
        ids.push(self.eos);
        ids
    }

    /// One L2-normalised vector of [`dim`](Self::dim) floats per text. Blocking and
    /// CPU-bound: runs on the encoder's own threads.
    pub fn embed(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let started = std::time::Instant::now();
        let embedded = self.pool.install(|| self.embed_in_pool(texts, kind));
        ENCODER_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ENCODER_TEXTS.fetch_add(texts.len() as u64, std::sync::atomic::Ordering::Relaxed);
        ENCODER_MICROS.fetch_add(
            started.elapsed().as_micros() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        embedded
    }

    fn prefixed_ids(&self, text: &str, kind: TextKind) -> Result<Vec<u32>> {
        self.tokenizer.content_ids(&format!("{}{text}", kind.prefix()))
    }

    fn embed_in_pool(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>> {
        let contents: Vec<Vec<u32>> = texts
            .par_iter()
            .map(|text| self.prefixed_ids(text, kind))
            .collect::<Result<_>>()?;
        let windows = windows(&contents, self.bert.max_tokens() - 2);

        let dim = self.dim();
        let mut sums = vec![vec![0.0f32; dim]; texts.len()];
        let mut weights = vec![0.0f64; texts.len()];
        for pass in passes(&windows, MAX_TOKENS_PER_PASS) {
            let mut ids = Vec::new();
            let mut segments = Vec::with_capacity(pass.len());
            for window in pass {
                let start = ids.len();
                ids.push(self.bos);
                ids.extend_from_slice(&contents[window.text][window.content.clone()]);
                ids.push(self.eos);
                segments.push(start..ids.len());
            }
            let means = self.bert.mean_pooled(&ids, &segments)?;
            for (window, mean) in pass.iter().zip(means) {
                // Weighted by content tokens, as the reference engine does.
                let weight = window.content.len().max(1) as f32;
                sums[window.text]
                    .iter_mut()
                    .zip(&mean)
                    .for_each(|(s, m)| *s += weight * m);
                weights[window.text] += f64::from(weight);
            }
        }
        Ok(sums
            .into_iter()
            .zip(weights)
            .map(|(mut sum, weight)| {
                let inverse = (1.0 / weight) as f32;
                sum.iter_mut().for_each(|s| *s *= inverse);
                let norm = sum.iter().map(|s| s * s).sum::<f32>().max(1e-12).sqrt();
                sum.iter_mut().for_each(|s| *s /= norm);
                sum
            })
            .collect())
    }
}

/// A span of one text's content ids that is embedded on its own.
#[derive(Debug, Clone, PartialEq)]
struct Window {
    text: usize,
    content: Range<usize>,
}

/// Cuts each text's content into windows of at most `max_content` ids, without overlap;
/// an empty text still gets one (empty) window.
fn windows(contents: &[Vec<u32>], max_content: usize) -> Vec<Window> {
    let mut windows = Vec::new();
    for (text, content) in contents.iter().enumerate() {
        let mut start = 0;
        loop {
            let end = (start + max_content).min(content.len());
            windows.push(Window {
                text,
                content: start..end,
            });
            start = end;
            if start >= content.len() {
                break;
            }
        }
    }
    windows
}

/// Groups consecutive windows into passes of at most `max_tokens` tokens (special tokens
/// included), at least one window per pass.
fn passes(windows: &[Window], max_tokens: usize) -> Vec<&[Window]> {
    let mut passes = Vec::new();
    let (mut start, mut n_tokens) = (0, 0);
    for (i, window) in windows.iter().enumerate() {
        let len = window.content.len() + 2;
        if i > start && n_tokens + len > max_tokens {
            passes.push(&windows[start..i]);
            (start, n_tokens) = (i, 0);
        }
        n_tokens += len;
    }
    passes.push(&windows[start..]);
    passes
}

fn load_e5s1(path: &Path) -> Result<Loaded> {
    let bytes = std::fs::read(path).map_err(|source| UserError::Io {
        path: path.to_owned(),
        source,
    })?;
    let file = E5s1::parse(path, bytes)?;
    file.check_tensors()?;
    let ((model_hash, tokenizer), bert) = rayon::join(
        || {
            (
                sha256_hex(&[file.bytes()]),
                Unigram::new(&file.vocab, &file.normalization),
            )
        },
        || bert_from_e5s1(&file),
    );
    Ok(Loaded {
        bert: bert?,
        tokenizer: Tokenizer::Unigram(tokenizer),
        bos: file.vocab.bos,
        eos: file.vocab.eos,
        model_hash,
    })
}

fn bert_from_e5s1(file: &E5s1) -> Result<Bert> {
    let header = &file.header;
    let h = header.hidden;
    let tensor = |name: &str, shape: &[usize]| -> Result<Tensor> {
        Ok(Tensor::from_vec(file.to_f32(name)?, shape, &Device::Cpu)?)
    };
    let pair = |prefix: &str, shape: &[usize]| -> Result<(Tensor, Tensor)> {
        Ok((
            tensor(&format!("{prefix}.w"), shape)?,
            tensor(&format!("{prefix}.b"), &shape[..1])?,
        ))
    };
    let eps = header.layer_norm_eps;
    let layers = (0..header.n_layers)
        .into_par_iter()
        .map(|i| {
            let weights = LayerWeights {
                query: pair(&format!("l{i}.q"), &[h, h])?,
                key: pair(&format!("l{i}.k"), &[h, h])?,
                value: pair(&format!("l{i}.v"), &[h, h])?,
                attention_output: pair(&format!("l{i}.ao"), &[h, h])?,
                attention_norm: pair(&format!("l{i}.aln"), &[h])?,
                intermediate: pair(&format!("l{i}.fi"), &[header.intermediate, h])?,
                output: pair(&format!("l{i}.fo"), &[h, header.intermediate])?,
                output_norm: pair(&format!("l{i}.oln"), &[h])?,
            };
            Layer::new(weights, header.n_heads, eps, rayon::current_num_threads())
        })
        .collect::<Result<Vec<_>>>()?;
    let word = match file.dtype("emb.word")? {
        DType::Q4_0 => WordTable::Q4 {
            bytes: file.raw("emb.word")?.to_vec(),
            hidden: h,
        },
        DType::F32 => WordTable::Dense(tensor("emb.word", &[header.n_word_rows, h])?),
    };
    let (norm_weight, norm_bias) = pair("emb.ln", &[h])?;
    Ok(Bert {
        word,
        // The file's position table already starts at position 0 (XLM-R's offset of 2 is
        // cut off).
        positions: tensor("emb.pos", &[header.n_positions, h])?,
        position_offset: 0,
        token_type: tensor("emb.type", &[header.n_token_types, h])?.get(0)?,
        embedding_norm: LayerNorm::new(norm_weight, norm_bias, eps),
        layers,
        activation: Activation::GeluErf,
    })
}

/// The sha256 of the concatenated parts, in hex.
pub(crate) fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoder_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Encoder>();
    }

    #[test]
    fn windows_cut_long_texts_without_overlap() {
        let contents = vec![vec![7; 5], vec![], vec![7; 2]];
        let windows = windows(&contents, 2);
        let spans: Vec<(usize, Range<usize>)> = windows.iter().map(|w| (w.text, w.content.clone())).collect();
        assert_eq!(spans, vec![(0, 0..2), (0, 2..4), (0, 4..5), (1, 0..0), (2, 0..2)]);
    }

    #[test]
    fn passes_respect_the_token_budget_but_take_at_least_one_window() {
        let window = |n| Window { text: 0, content: 0..n };
        let windows = vec![window(3), window(3), window(10), window(1)];
        let sizes: Vec<usize> = passes(&windows, 10).iter().map(|pass| pass.len()).collect();
        // 5 + 5 tokens fit in 10; the 12-token window goes alone; the last one starts anew.
        assert_eq!(sizes, vec![2, 1, 1]);
    }
}

static ENCODER_CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static ENCODER_TEXTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static ENCODER_MICROS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// What every encoder in this process has done so far: calls to `embed`, texts embedded, and
/// the time spent, for the server's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderUse {
    pub calls: u64,
    pub texts: u64,
    pub micros: u64,
}

pub fn encoder_use() -> EncoderUse {
    use std::sync::atomic::Ordering::Relaxed;
    EncoderUse {
        calls: ENCODER_CALLS.load(Relaxed),
        texts: ENCODER_TEXTS.load(Relaxed),
        micros: ENCODER_MICROS.load(Relaxed),
    }
}
