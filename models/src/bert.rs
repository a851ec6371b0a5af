//! A post-LayerNorm BERT encoder (BERT and XLM-R share it) in candle, f32 on the CPU.
//!
//! A forward pass takes several token sequences packed into one `[tokens, hidden]` matrix:
//! every token-wise matmul then reads each weight once for the whole batch, with no padding,
//! and only attention runs per sequence.
//!
//! Each layer is split between the encoder's threads by attention heads and by intermediate
//! units ([`Shard`]): a thread computes its heads' queries, keys, values, attention and their
//! share of the output projection, or its units' share of the feed-forward block, and the
//! shares are summed: two fork-joins per layer rather than one per matmul, which measured
//! about a tenth faster on short queries.

use std::ops::Range;

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use crate::error::{InternalError, Result};
use crate::{gelu, q4};

/// The word embedding table. The Q4_0 form is kept as it is (a dequantised
/// multilingual table would take 384 MB): only the rows of the tokens at hand are expanded.
pub(crate) enum WordTable {
    Q4 { bytes: Vec<u8>, hidden: usize },
    Dense(Tensor),
}

impl WordTable {
    fn n_rows(&self) -> usize {
        match self {
            WordTable::Q4 { bytes, hidden } => bytes.len() / (hidden / q4::BLOCK * q4::BLOCK_BYTES),
            WordTable::Dense(table) => table.dims()[0],
        }
    }

    fn lookup(&self, ids: &[u32]) -> Result<Tensor> {
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= self.n_rows()) {
            let message = format!("token id {id} outside the word table of {} rows", self.n_rows());
            return Err(InternalError::Tokenizer(message).into());
        }
        match self {
            WordTable::Q4 { bytes, hidden } => {
                let row_bytes = hidden / q4::BLOCK * q4::BLOCK_BYTES;
                let mut rows = vec![0.0; ids.len() * hidden];
                for (&id, out) in ids.iter().zip(rows.chunks_exact_mut(*hidden)) {
                    let start = id as usize * row_bytes;
                    q4::dequantize_into(&bytes[start..start + row_bytes], out);
                }
                Ok(Tensor::from_vec(rows, (ids.len(), *hidden), &Device::Cpu)?)
            }
            WordTable::Dense(table) => {
                let ids = Tensor::from_slice(ids, ids.len(), &Device::Cpu)?;
                Ok(table.index_select(&ids, 0)?)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Activation {
    /// The exact GELU (`hidden_act: "gelu"`), what BERT and XLM-R use.
    GeluErf,
    /// The tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    GeluTanh,
    Relu,
}

pub(crate) struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    pub fn new(weight: Tensor, bias: Tensor, eps: f32) -> LayerNorm {
        LayerNorm { weight, bias, eps }
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps)?)
    }
}

/// Output columns per weight panel (see [`Linear`]). Single-threaded on the 2-core VM, a
/// short query took 15 ms with 32, 16.5 ms with 16, 19 ms with 64, 25 ms with a plain
/// `[in, out]` matrix and 22 ms with `[out, in]`.
const PANEL: usize = 32;

/// `y = x Wᵀ (+ b)`, with `W` stored in panels of [`PANEL`] output columns, each
/// `[in, PANEL]` row-major. For the few rows of a query, gemm then reads every weight once,
/// in order: on a plain `[in, out]` matrix its kernel strides across rows of several KB (the
/// prefetchers lose track and the weights arrive at a third of the memory bandwidth), and on
/// `[out, in]` it repacks the whole matrix on every call.
pub(crate) struct Linear {
    /// `[n_panels, in, width]`.
    panels: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    /// `weight` is `[out, in]` as in the model files.
    fn new(weight: &Tensor, bias: Option<Tensor>) -> Result<Linear> {
        let (n_out, n_in) = weight.dims2()?;
        // An odd width keeps one panel: the plain layout, slower but right.
        let width = if n_out.is_multiple_of(PANEL) { PANEL } else { n_out };
        let panels = weight
            .reshape((n_out / width, width, n_in))?
            .transpose(1, 2)?
            .contiguous()?;
        Ok(Linear { panels, bias })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let n_tokens = x.dim(0)?;
        let (n_panels, _, width) = self.panels.dims3()?;
        // [panels, tokens, width] -> [tokens, out]
        let y = x
            .broadcast_left(n_panels)?
            .matmul(&self.panels)?
            .transpose(0, 1)?
            .reshape((n_tokens, n_panels * width))?;
        Ok(match &self.bias {
            Some(bias) => y.broadcast_add(bias)?,
            None => y,
        })
    }
}

/// One thread's share of a layer: some attention heads and some intermediate units.
struct Shard {
    /// Queries (pre-scaled by 1/√head_dim), keys and values of the shard's heads.
    qkv: Linear,
    /// The columns of the attention output projection that read the shard's heads.
    attention_output: Linear,
    intermediate: Linear,
    /// The columns of the output projection that read the shard's intermediate units.
    output: Linear,
    n_heads: usize,
}

impl Shard {
    /// The shard's part of the attention block's output, before the bias.
    fn attention(&self, x: &Tensor, segments: &[Range<usize>]) -> Result<Tensor> {
        let qkv = self.qkv.forward(x)?;
        let width = qkv.dim(1)? / 3;
        let head_dim = width / self.n_heads;
        let mut contexts = Vec::with_capacity(segments.len());
        for segment in segments {
            let n_tokens = segment.len();
            // [tokens, 3, heads, head_dim] -> [3, heads, tokens, head_dim]
            let qkv = qkv
                .narrow(0, segment.start, n_tokens)?
                .reshape((n_tokens, 3, self.n_heads, head_dim))?
                .permute((1, 2, 0, 3))?;
            let query = qkv.get(0)?.contiguous()?;
            let key = qkv.get(1)?.contiguous()?;
            let value = qkv.get(2)?.contiguous()?;
            let probabilities = candle_nn::ops::softmax_last_dim(&query.matmul(&key.t()?)?)?;
            contexts.push(
                probabilities
                    .matmul(&value)?
                    .transpose(0, 1)?
                    .reshape((n_tokens, width))?,
            );
        }
        let context = match contexts.len() {
            1 => contexts.remove(0),
            _ => Tensor::cat(&contexts, 0)?,
        };
        self.attention_output.forward(&context)
    }

    /// The shard's part of the feed-forward block's output, before the bias.
    fn feed_forward(&self, x: &Tensor, activation: Activation) -> Result<Tensor> {
        let intermediate = self.intermediate.forward(x)?;
        let intermediate = match activation {
            Activation::GeluErf => intermediate.apply_op1_no_bwd(&gelu::GeluErf)?,
            Activation::GeluTanh => intermediate.gelu()?,
            Activation::Relu => intermediate.relu()?,
        };
        self.output.forward(&intermediate)
    }
}

pub(crate) struct Layer {
    shards: Vec<Shard>,
    attention_output_bias: Tensor,
    attention_norm: LayerNorm,
    output_bias: Tensor,
    output_norm: LayerNorm,
}

/// The tensors of one layer as model files store them: `(weight [out, in], bias [out])`
/// for the maps, `(weight, bias)` for the norms.
pub(crate) struct LayerWeights {
    pub query: (Tensor, Tensor),
    pub key: (Tensor, Tensor),
    pub value: (Tensor, Tensor),
    pub attention_output: (Tensor, Tensor),
    pub attention_norm: (Tensor, Tensor),
    pub intermediate: (Tensor, Tensor),
    pub output: (Tensor, Tensor),
    pub output_norm: (Tensor, Tensor),
}

impl Layer {
    /// Splits the layer into `n_shards` shards (fewer if there are fewer heads).
    pub fn new(weights: LayerWeights, n_heads: usize, eps: f32, n_shards: usize) -> Result<Layer> {
        let (query_weight, query_bias) = &weights.query;
        let head_dim = query_weight.dim(0)? / n_heads;
        // Scaling the queries here saves scaling every attention score.
        let scale = 1.0 / (head_dim as f64).sqrt();
        let query = ((query_weight * scale)?, (query_bias * scale)?);
        let n_units = weights.intermediate.0.dim(0)?;
        // Every shard gets at least one head and one panel of units.
        let n_shards = n_shards.clamp(1, n_heads.min(n_units / PANEL).max(1));
        let heads = split(n_heads, n_shards, 1);
        let units = split(n_units, n_shards, PANEL);
        let shards = heads
            .into_iter()
            .zip(units)
            .map(|(heads, units)| {
                let columns = heads.start * head_dim..heads.end * head_dim;
                let rows = |(weight, bias): &(Tensor, Tensor)| -> Result<(Tensor, Tensor)> {
                    Ok((
                        weight.narrow(0, columns.start, columns.len())?,
                        bias.narrow(0, columns.start, columns.len())?,
                    ))
                };
                let (q, k, v) = (rows(&query)?, rows(&weights.key)?, rows(&weights.value)?);
                let qkv_weight = Tensor::cat(&[&q.0, &k.0, &v.0], 0)?;
                let qkv_bias = Tensor::cat(&[&q.1, &k.1, &v.1], 0)?;
                let (intermediate_weight, intermediate_bias) = &weights.intermediate;
                Ok(Shard {
                    qkv: Linear::new(&qkv_weight, Some(qkv_bias))?,
                    attention_output: Linear::new(
                        &weights.attention_output.0.narrow(1, columns.start, columns.len())?,
                        None,
                    )?,
                    intermediate: Linear::new(
                        &intermediate_weight.narrow(0, units.start, units.len())?,
                        Some(intermediate_bias.narrow(0, units.start, units.len())?),
                    )?,
                    output: Linear::new(&weights.output.0.narrow(1, units.start, units.len())?, None)?,
                    n_heads: heads.len(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let norm = |(weight, bias): (Tensor, Tensor)| LayerNorm::new(weight, bias, eps);
        Ok(Layer {
            shards,
            attention_output_bias: weights.attention_output.1,
            attention_norm: norm(weights.attention_norm),
            output_bias: weights.output.1,
            output_norm: norm(weights.output_norm),
        })
    }

    fn forward(&self, x: &Tensor, segments: &[Range<usize>], activation: Activation) -> Result<Tensor> {
        let attended = self.sum_over_shards(|shard| shard.attention(x, segments))?;
        let x = self
            .attention_norm
            .forward(&(x + attended)?.broadcast_add(&self.attention_output_bias)?)?;
        let output = self.sum_over_shards(|shard| shard.feed_forward(&x, activation))?;
        self.output_norm
            .forward(&(x + output)?.broadcast_add(&self.output_bias)?)
    }

    fn sum_over_shards(&self, part: impl Fn(&Shard) -> Result<Tensor> + Send + Sync) -> Result<Tensor> {
        let parts: Vec<Tensor> = self.shards.par_iter().map(part).collect::<Result<_>>()?;
        let mut parts = parts.into_iter();
        let first = parts.next().expect("a layer has at least one shard");
        Ok(parts.try_fold(first, |sum, part| sum + part)?)
    }
}

/// Cuts `0..n` into `n_parts` ranges as even as whole multiples of `unit` allow (the last
/// range takes any remainder).
fn split(n: usize, n_parts: usize, unit: usize) -> Vec<Range<usize>> {
    let n_units = n / unit;
    let mut ranges = Vec::with_capacity(n_parts);
    let mut start = 0;
    for part in 0..n_parts {
        let end = if part + 1 == n_parts {
            n
        } else {
            start + (n_units * (part + 1) / n_parts - n_units * part / n_parts) * unit
        };
        ranges.push(start..end);
        start = end;
    }
    ranges
}

pub(crate) struct Bert {
    pub word: WordTable,
    /// `[positions, hidden]`; row `position_offset + i` is the embedding of position `i`.
    pub positions: Tensor,
    pub position_offset: usize,
    /// The embedding of token type 0, `[hidden]`.
    pub token_type: Tensor,
    pub embedding_norm: LayerNorm,
    pub layers: Vec<Layer>,
    pub activation: Activation,
}

impl Bert {
    pub fn hidden(&self) -> usize {
        self.token_type.dims()[0]
    }

    /// The most tokens (special tokens included) one sequence may have.
    pub fn max_tokens(&self) -> usize {
        self.positions.dims()[0] - self.position_offset
    }

    /// Runs the sequences `ids[segment]` (each already with its special tokens) and returns,
    /// per segment, the mean of its final hidden states.
    pub fn mean_pooled(&self, ids: &[u32], segments: &[Range<usize>]) -> Result<Vec<Vec<f32>>> {
        let positions: Vec<u32> = segments
            .iter()
            .flat_map(|segment| (0..segment.len()).map(|i| (self.position_offset + i) as u32))
            .collect();
        let positions = Tensor::from_vec(positions, ids.len(), &Device::Cpu)?;
        let x = self
            .word
            .lookup(ids)?
            .add(&self.positions.index_select(&positions, 0)?)?
            .broadcast_add(&self.token_type)?;
        let mut x = self.embedding_norm.forward(&x)?;
        for layer in &self.layers {
            x = layer.forward(&x, segments, self.activation)?;
        }
        let hidden = self.hidden();
        let x: Vec<f32> = x.flatten_all()?.to_vec1()?;
        Ok(segments
            .iter()
            .map(|segment| {
                let mut mean = vec![0.0f32; hidden];
                for row in x[segment.start * hidden..segment.end * hidden].chunks_exact(hidden) {
                    mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
                }
                let n_tokens = segment.len().max(1) as f32;
                mean.iter_mut().for_each(|m| *m /= n_tokens);
                mean
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_even_in_whole_units() {
        assert_eq!(split(12, 2, 1), vec![0..6, 6..12]);
        assert_eq!(split(1536, 2, 32), vec![0..768, 768..1536]);
        assert_eq!(split(12, 5, 1), vec![0..2, 2..4, 4..7, 7..9, 9..12]);
        assert_eq!(split(100, 3, 32), vec![0..32, 32..64, 64..100]);
        assert_eq!(split(7, 1, 32), vec![0..7]);
    }
}
