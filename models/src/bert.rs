//! A post-LayerNorm BERT encoder (BERT and XLM-R share it) in candle, f32 on the CPU.
//!
//! A forward pass takes several token sequences packed into one `[tokens, hidden]` matrix:
//! every token-wise matmul then reads each weight once for the whole batch, with no padding,
//! and only attention runs per sequence.

use std::ops::Range;

use candle_core::{D, Device, Tensor};
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

/// Output columns per weight panel (see [`Linear`]). On the 2-core VM, 32 beat 16 and 64 for
/// short queries and all three beat a plain `[in, out]` matrix by a third.
const PANEL: usize = 32;

/// `y = x Wᵀ + b`, with `W` stored in panels of [`PANEL`] output columns, each `[in, PANEL]`
/// row-major. For the few rows of a query, gemm then reads every weight once, in order: on
/// a plain `[in, out]` matrix its kernel strides across rows of several KB (the prefetchers
/// lose track and the weights arrive at a third of the memory bandwidth), and on `[out, in]`
/// it repacks the whole matrix on every call. The panels are split between the pool's
/// threads, each running its own single-threaded gemm calls.
pub(crate) struct Linear {
    /// `[n_panels, in, width]`.
    panels: Tensor,
    bias: Tensor,
}

impl Linear {
    /// `weight` is `[out, in]` as in the model files.
    pub fn new(weight: &Tensor, bias: Tensor) -> Result<Linear> {
        let (n_out, n_in) = weight.dims2()?;
        // An odd width keeps one panel: the plain layout, slower but right.
        let width = if n_out % PANEL == 0 { PANEL } else { n_out };
        let panels = weight.reshape((n_out / width, width, n_in))?.transpose(1, 2)?.contiguous()?;
        Ok(Linear { panels, bias })
    }

    /// One linear map computing several stacked along the output dimension.
    pub fn fused(parts: &[(Tensor, Tensor)]) -> Result<Linear> {
        let weights: Vec<&Tensor> = parts.iter().map(|(weight, _)| weight).collect();
        let biases: Vec<&Tensor> = parts.iter().map(|(_, bias)| bias).collect();
        Linear::new(&Tensor::cat(&weights, 0)?, Tensor::cat(&biases, 0)?)
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let n_tokens = x.dim(0)?;
        let (n_panels, _, width) = self.panels.dims3()?;
        let per_thread = n_panels.div_ceil(rayon::current_num_threads());
        let starts: Vec<usize> = (0..n_panels).step_by(per_thread).collect();
        // [panels, tokens, width], in one piece per thread
        let mut products = starts
            .into_par_iter()
            .map(|start| {
                let panels = self.panels.narrow(0, start, per_thread.min(n_panels - start))?;
                x.broadcast_left(panels.dim(0)?)?.matmul(&panels)
            })
            .collect::<candle_core::Result<Vec<Tensor>>>()?;
        let product = match products.len() {
            1 => products.remove(0),
            _ => Tensor::cat(&products, 0)?,
        };
        Ok(product.transpose(0, 1)?.reshape((n_tokens, n_panels * width))?.broadcast_add(&self.bias)?)
    }
}

pub(crate) struct Layer {
    /// Query, key and value in one map, queries pre-scaled by 1/√head_dim.
    qkv: Linear,
    attention_output: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
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
    pub fn new(weights: LayerWeights, n_heads: usize, eps: f32) -> Result<Layer> {
        let (query_weight, query_bias) = weights.query;
        let head_dim = query_weight.dims()[0] / n_heads;
        // Scaling the queries here saves scaling every attention score.
        let scale = 1.0 / (head_dim as f64).sqrt();
        let query = ((query_weight * scale)?, (query_bias * scale)?);
        let norm = |(weight, bias): (Tensor, Tensor)| LayerNorm::new(weight, bias, eps);
        Ok(Layer {
            qkv: Linear::fused(&[query, weights.key, weights.value])?,
            attention_output: Linear::new(&weights.attention_output.0, weights.attention_output.1)?,
            attention_norm: norm(weights.attention_norm),
            intermediate: Linear::new(&weights.intermediate.0, weights.intermediate.1)?,
            output: Linear::new(&weights.output.0, weights.output.1)?,
            output_norm: norm(weights.output_norm),
        })
    }
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
    pub n_heads: usize,
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
            x = self.layer(layer, &x, segments)?;
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

    fn layer(&self, layer: &Layer, x: &Tensor, segments: &[Range<usize>]) -> Result<Tensor> {
        let qkv = layer.qkv.forward(x)?;
        let context = self.attention(&qkv, segments)?;
        let attended = layer.attention_output.forward(&context)?;
        let x = layer.attention_norm.forward(&(x + attended)?)?;
        let intermediate = layer.intermediate.forward(&x)?;
        let intermediate = match self.activation {
            Activation::GeluErf => intermediate.apply_op1_no_bwd(&gelu::GeluErf)?,
            Activation::GeluTanh => intermediate.gelu()?,
            Activation::Relu => intermediate.relu()?,
        };
        let output = layer.output.forward(&intermediate)?;
        layer.output_norm.forward(&(x + output)?)
    }

    /// Scaled dot-product attention of each segment over its own tokens; `qkv` is
    /// `[tokens, 3 * hidden]`, the result `[tokens, hidden]`.
    fn attention(&self, qkv: &Tensor, segments: &[Range<usize>]) -> Result<Tensor> {
        let attend = |segment: &Range<usize>| -> Result<Tensor> {
            let (n_tokens, hidden) = (segment.len(), self.hidden());
            let head_dim = hidden / self.n_heads;
            // [tokens, 3, heads, head_dim] -> [3, heads, tokens, head_dim]
            let qkv = qkv
                .narrow(0, segment.start, n_tokens)?
                .reshape((n_tokens, 3, self.n_heads, head_dim))?
                .permute((1, 2, 0, 3))?;
            let query = qkv.get(0)?.contiguous()?;
            let key = qkv.get(1)?.contiguous()?;
            let value = qkv.get(2)?.contiguous()?;
            let scores = query.matmul(&key.t()?)?;
            let probabilities = candle_nn::ops::softmax_last_dim(&scores)?;
            Ok(probabilities
                .matmul(&value)?
                .transpose(0, 1)?
                .reshape((n_tokens, hidden))?)
        };
        match segments {
            [segment] => attend(segment),
            _ => {
                let contexts: Vec<Tensor> = segments.par_iter().map(attend).collect::<Result<_>>()?;
                Ok(Tensor::cat(&contexts, D::Minus2)?)
            }
        }
    }
}
