//! A Hugging Face model folder: `config.json`, `tokenizer.json` and `model.safetensors` of a
//! BERT (`model_type: "bert"`) or XLM-R (`"xlm-roberta"`, `"roberta"`) encoder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde::Deserialize;

use crate::bert::{Activation, Bert, Layer, LayerNorm, LayerWeights, WordTable};
use crate::encoder::{Loaded, Tokenizer, sha256_hex};
use crate::error::{Result, UserError};

#[derive(Debug, Deserialize)]
struct Config {
    model_type: String,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    #[serde(default = "default_hidden_act")]
    hidden_act: String,
    max_position_embeddings: usize,
    #[serde(default = "default_layer_norm_eps")]
    layer_norm_eps: f64,
    pad_token_id: Option<usize>,
    position_embedding_type: Option<String>,
}

fn default_hidden_act() -> String {
    "gelu".to_owned()
}

fn default_layer_norm_eps() -> f64 {
    1e-12
}

pub(crate) fn load(dir: &Path) -> Result<Loaded> {
    let config_path = dir.join("config.json");
    if !config_path.is_file() {
        return Err(UserError::NotAModel { path: dir.to_owned() }.into());
    }
    let config_bytes = read(&config_path)?;
    let config: Config = serde_json::from_slice(&config_bytes)
        .map_err(|error| invalid(&config_path, format!("config.json: {error}")))?;
    let unsupported = |reason: String| UserError::Unsupported {
        path: config_path.clone(),
        reason,
    };

    // RoBERTa numbers positions from pad_token_id + 1, BERT from 0.
    let position_offset = match config.model_type.as_str() {
        "bert" => 0,
        "xlm-roberta" | "roberta" => config.pad_token_id.unwrap_or(1) + 1,
        other => return Err(unsupported(format!("model_type {other:?}")).into()),
    };
    if let Some(kind) = config
        .position_embedding_type
        .as_deref()
        .filter(|kind| *kind != "absolute")
    {
        return Err(unsupported(format!("position_embedding_type {kind:?}")).into());
    }
    let activation = match config.hidden_act.as_str() {
        "gelu" => Activation::GeluErf,
        "gelu_new" | "gelu_pytorch_tanh" => Activation::GeluTanh,
        "relu" => Activation::Relu,
        other => return Err(unsupported(format!("hidden_act {other:?}")).into()),
    };
    let (h, n_heads) = (config.hidden_size, config.num_attention_heads);
    if h == 0 || n_heads == 0 || !h.is_multiple_of(n_heads) || config.num_hidden_layers == 0 {
        return Err(invalid(&config_path, format!("{h} hidden units in {n_heads} heads")));
    }
    if config.intermediate_size == 0 {
        return Err(invalid(&config_path, "intermediate_size is 0".to_owned()));
    }
    if config.max_position_embeddings < position_offset + 3 {
        return Err(invalid(&config_path, "too few max_position_embeddings".to_owned()));
    }

    let tokenizer_path = dir.join("tokenizer.json");
    let tokenizer_bytes = read(&tokenizer_path)?;
    let weights_path = dir.join("model.safetensors");
    let weights_bytes = read(&weights_path)?;
    let model_hash = sha256_hex(&[&config_bytes, b"\0", &tokenizer_bytes, b"\0", &weights_bytes]);

    let (tokenizer, bos, eos) = load_tokenizer(&tokenizer_path, &tokenizer_bytes)?;
    let mut weights = Weights::new(&weights_path, &weights_bytes)?;
    let eps = config.layer_norm_eps as f32;
    let layers = (0..config.num_hidden_layers)
        .map(|i| {
            let prefix = format!("encoder.layer.{i}");
            let layer_weights = LayerWeights {
                query: weights.linear(&format!("{prefix}.attention.self.query"), h, h)?,
                key: weights.linear(&format!("{prefix}.attention.self.key"), h, h)?,
                value: weights.linear(&format!("{prefix}.attention.self.value"), h, h)?,
                attention_output: weights.linear(&format!("{prefix}.attention.output.dense"), h, h)?,
                attention_norm: weights.norm(&format!("{prefix}.attention.output.LayerNorm"), h)?,
                intermediate: weights.linear(&format!("{prefix}.intermediate.dense"), config.intermediate_size, h)?,
                output: weights.linear(&format!("{prefix}.output.dense"), h, config.intermediate_size)?,
                output_norm: weights.norm(&format!("{prefix}.output.LayerNorm"), h)?,
            };
            Layer::new(layer_weights, n_heads, eps, rayon::current_num_threads())
        })
        .collect::<Result<Vec<_>>>()?;
    let word = weights.tensor("embeddings.word_embeddings.weight", None)?;
    let n_word_rows = match *word.dims() {
        [n_rows, n_columns] if n_columns == h => n_rows,
        ref other => return Err(invalid(&weights_path, format!("word embeddings of shape {other:?}"))),
    };
    let n_tokenizer_ids = tokenizer.get_vocab_size(true);
    if n_tokenizer_ids > n_word_rows {
        return Err(invalid(
            dir,
            format!("tokenizer.json has {n_tokenizer_ids} ids, the word embeddings {n_word_rows} rows"),
        ));
    }
    let positions = weights.tensor(
        "embeddings.position_embeddings.weight",
        Some(&[config.max_position_embeddings, h]),
    )?;
    let token_types = weights.tensor("embeddings.token_type_embeddings.weight", None)?;
    if token_types.rank() != 2 || token_types.dims()[1] != h || token_types.dims()[0] == 0 {
        return Err(invalid(
            &weights_path,
            format!("token type embeddings of shape {:?}", token_types.dims()),
        ));
    }
    let (norm_weight, norm_bias) = weights.norm("embeddings.LayerNorm", h)?;
    Ok(Loaded {
        bert: Bert {
            word: WordTable::Dense(word),
            positions,
            position_offset,
            token_type: token_types.get(0)?,
            embedding_norm: LayerNorm::new(norm_weight, norm_bias, eps),
            layers,
            activation,
        },
        tokenizer: Tokenizer::Hf(Box::new(tokenizer)),
        bos,
        eos,
        model_hash,
    })
}

/// The tokenizer, and the special tokens its post-processor puts around a single text.
fn load_tokenizer(path: &Path, bytes: &[u8]) -> Result<(tokenizers::Tokenizer, u32, u32)> {
    let mut tokenizer =
        tokenizers::Tokenizer::from_bytes(bytes).map_err(|error| invalid(path, format!("tokenizer.json: {error}")))?;
    tokenizer
        .with_truncation(None)
        .map_err(|error| invalid(path, format!("tokenizer.json: {error}")))?;
    tokenizer.with_padding(None);
    let specials = tokenizer
        .encode_fast("", true)
        .map_err(|error| invalid(path, format!("tokenizer.json cannot encode: {error}")))?;
    let (bos, eos) = match specials.get_ids() {
        [bos, eos] => (*bos, *eos),
        other => {
            return Err(UserError::Unsupported {
                path: path.to_owned(),
                reason: format!("the post-processor adds {other:?} around a text, expected two tokens"),
            }
            .into());
        }
    };
    // A WordPiece or Unigram model without its unknown token fails on unknown words: find out
    // now rather than at the first query.
    tokenizer
        .encode_fast("query: \u{10ffff}\u{e000} ☃ 办事", false)
        .map_err(|error| invalid(path, format!("tokenizer.json cannot encode: {error}")))?;
    Ok((tokenizer, bos, eos))
}

/// The tensors of a safetensors file, found with or without a `bert.`/`roberta.` prefix.
struct Weights<'a> {
    path: &'a Path,
    tensors: HashMap<String, Tensor>,
    prefix: &'static str,
}

impl<'a> Weights<'a> {
    fn new(path: &'a Path, bytes: &[u8]) -> Result<Weights<'a>> {
        let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
            .map_err(|error| invalid(path, format!("model.safetensors: {error}")))?;
        let prefix = ["", "bert.", "roberta.", "model."]
            .into_iter()
            .find(|prefix| tensors.contains_key(&format!("{prefix}embeddings.word_embeddings.weight")))
            .ok_or_else(|| UserError::MissingTensor {
                path: path.to_owned(),
                name: "embeddings.word_embeddings.weight".to_owned(),
            })?;
        Ok(Weights { path, tensors, prefix })
    }

    /// Takes a tensor out as f32, checking its shape when one is given.
    fn tensor(&mut self, name: &str, shape: Option<&[usize]>) -> Result<Tensor> {
        let tensor =
            self.tensors
                .remove(&format!("{}{name}", self.prefix))
                .ok_or_else(|| UserError::MissingTensor {
                    path: self.path.to_owned(),
                    name: name.to_owned(),
                })?;
        if let Some(shape) = shape
            && tensor.dims() != shape
        {
            return Err(invalid(
                self.path,
                format!("tensor {name:?} has shape {:?}, expected {shape:?}", tensor.dims()),
            ));
        }
        let tensor = match tensor.dtype() {
            DType::F32 => tensor,
            DType::F16 | DType::BF16 | DType::F64 => tensor.to_dtype(DType::F32)?,
            other => return Err(invalid(self.path, format!("tensor {name:?} has dtype {other:?}"))),
        };
        Ok(tensor)
    }

    fn linear(&mut self, prefix: &str, n_out: usize, n_in: usize) -> Result<(Tensor, Tensor)> {
        Ok((
            self.tensor(&format!("{prefix}.weight"), Some(&[n_out, n_in]))?,
            self.tensor(&format!("{prefix}.bias"), Some(&[n_out]))?,
        ))
    }

    fn norm(&mut self, prefix: &str, n: usize) -> Result<(Tensor, Tensor)> {
        Ok((
            self.tensor(&format!("{prefix}.weight"), Some(&[n]))?,
            self.tensor(&format!("{prefix}.bias"), Some(&[n]))?,
        ))
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| {
        UserError::Io {
            path: path.to_owned(),
            source,
        }
        .into()
    })
}

fn invalid(path: &Path, reason: String) -> crate::Error {
    UserError::Invalid {
        path: PathBuf::from(path),
        reason,
    }
    .into()
}
