//! A tiny random BERT, and a tiny random XLM-R, written as Hugging Face folders by the test
//! itself: the folder-loading path end to end, without any download.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use models::{Encoder, Error, TextKind, UserError};
use serde_json::json;

use crate::common::{cosine, norm};

const HIDDEN: usize = 32;
const INTERMEDIATE: usize = 64;
const N_LAYERS: usize = 2;

struct Architecture {
    model_type: &'static str,
    max_positions: usize,
    /// Rows of the position table before position 0 (RoBERTa: pad_token_id + 1).
    position_offset: usize,
    prefix: &'static str,
}

const BERT: Architecture = Architecture {
    model_type: "bert",
    max_positions: 16,
    position_offset: 0,
    prefix: "",
};
const XLM_R: Architecture = Architecture {
    model_type: "xlm-roberta",
    max_positions: 18,
    position_offset: 2,
    prefix: "roberta.",
};

const WORDS: &[&str] = &[
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "query", "passage", ":", "?", "how", "do", "i", "renew", "my", "passport",
    "办", "事", "居", "住", "证", "##s", "the", "a",
];

fn wordpiece_tokenizer() -> serde_json::Value {
    let vocab: serde_json::Map<String, serde_json::Value> = WORDS
        .iter()
        .enumerate()
        .map(|(i, word)| (word.to_string(), json!(i)))
        .collect();
    let special = |id: usize| {
        json!({"id": id, "content": WORDS[id], "single_word": false, "lstrip": false, "rstrip": false,
               "normalized": false, "special": true})
    };
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [special(0), special(1), special(2), special(3)],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": null,
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab}
    })
}

fn unigram_tokenizer() -> serde_json::Value {
    let pieces = [
        "<s>",
        "<pad>",
        "</s>",
        "<unk>",
        "▁",
        "▁query",
        ":",
        "▁passage",
        "▁how",
        "▁do",
        "▁i",
        "?",
        "办",
        "事",
        "居",
        "住",
        "证",
        "s",
        "a",
        "e",
    ];
    let vocab: Vec<serde_json::Value> = pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| json!([piece, if i < 4 { 0.0 } else { -1.0 - i as f64 / 10.0 }]))
        .collect();
    let special = |id: usize| {
        json!({"id": id, "content": pieces[id], "single_word": false, "lstrip": false, "rstrip": false,
               "normalized": false, "special": true})
    };
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [special(0), special(1), special(2), special(3)],
        "normalizer": null,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
                               "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
        "decoder": null,
        "model": {"type": "Unigram", "unk_id": 3, "vocab": vocab, "byte_fallback": false}
    })
}

/// Writes config.json, tokenizer.json and model.safetensors with random weights.
fn write_model(dir: &Path, architecture: &Architecture, tokenizer: serde_json::Value, n_words: usize) {
    let config = json!({
        "model_type": architecture.model_type,
        "hidden_size": HIDDEN,
        "num_hidden_layers": N_LAYERS,
        "num_attention_heads": 4,
        "intermediate_size": INTERMEDIATE,
        "hidden_act": "gelu",
        "max_position_embeddings": architecture.max_positions,
        "type_vocab_size": 2,
        "layer_norm_eps": 1e-5,
        "pad_token_id": 1,
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();

    let random = |shape: &[usize]| Tensor::randn(0f32, 0.5, shape, &Device::Cpu).unwrap();
    let prefix = architecture.prefix;
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    let mut add = |name: String, tensor: Tensor| tensors.insert(format!("{prefix}{name}"), tensor);
    add("embeddings.word_embeddings.weight".into(), random(&[n_words, HIDDEN]));
    add(
        "embeddings.position_embeddings.weight".into(),
        random(&[architecture.max_positions, HIDDEN]),
    );
    add("embeddings.token_type_embeddings.weight".into(), random(&[2, HIDDEN]));
    add(
        "embeddings.LayerNorm.weight".into(),
        Tensor::ones(HIDDEN, DType::F32, &Device::Cpu).unwrap(),
    );
    add(
        "embeddings.LayerNorm.bias".into(),
        Tensor::zeros(HIDDEN, DType::F32, &Device::Cpu).unwrap(),
    );
    for layer in 0..N_LAYERS {
        let p = format!("encoder.layer.{layer}");
        for (name, n_out, n_in) in [
            ("attention.self.query", HIDDEN, HIDDEN),
            ("attention.self.key", HIDDEN, HIDDEN),
            ("attention.self.value", HIDDEN, HIDDEN),
            ("attention.output.dense", HIDDEN, HIDDEN),
            ("intermediate.dense", INTERMEDIATE, HIDDEN),
            ("output.dense", HIDDEN, INTERMEDIATE),
        ] {
            add(
                format!("{p}.{name}.weight"),
                (random(&[n_out, n_in]) / (n_in as f64).sqrt()).unwrap(),
            );
            add(format!("{p}.{name}.bias"), (random(&[n_out]) * 0.1).unwrap());
        }
        for name in ["attention.output.LayerNorm", "output.LayerNorm"] {
            add(
                format!("{p}.{name}.weight"),
                random(&[HIDDEN]).affine(0.1, 1.0).unwrap(),
            );
            add(format!("{p}.{name}.bias"), (random(&[HIDDEN]) * 0.1).unwrap());
        }
    }
    // Stored as f16 to exercise the conversion to f32; a pooler the encoder ignores.
    let tensors: HashMap<String, Tensor> = tensors
        .into_iter()
        .map(|(name, t)| (name, t.to_dtype(DType::F16).unwrap()))
        .collect();
    let mut tensors = tensors;
    tensors.insert(format!("{prefix}pooler.dense.weight"), random(&[HIDDEN, HIDDEN]));
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors")).unwrap();
}

fn tiny_bert() -> (tempfile::TempDir, Encoder) {
    let dir = tempfile::tempdir().unwrap();
    write_model(dir.path(), &BERT, wordpiece_tokenizer(), WORDS.len());
    let encoder = Encoder::load(dir.path()).unwrap();
    (dir, encoder)
}

#[test]
fn tiny_bert_embeds_unit_vectors_of_its_hidden_size() {
    let (_dir, encoder) = tiny_bert();
    assert_eq!(encoder.dim(), HIDDEN);
    let texts = ["how do i renew my passport?", "办事", "", "the passports"];
    let embeddings = encoder.embed(&texts, TextKind::Query).unwrap();
    assert_eq!(embeddings.len(), texts.len());
    for embedding in &embeddings {
        assert_eq!(embedding.len(), HIDDEN);
        assert!((norm(embedding) - 1.0).abs() < 1e-5, "norm {}", norm(embedding));
    }
    assert!(cosine(&embeddings[0], &embeddings[1]) < 0.9999);
}

#[test]
fn tiny_bert_is_deterministic_and_batch_independent() {
    let (_dir, encoder) = tiny_bert();
    let texts = ["how do i renew my passport?", "办事"];
    let first = encoder.embed(&texts, TextKind::Passage).unwrap();
    let again = encoder.embed(&texts, TextKind::Passage).unwrap();
    assert_eq!(first, again);
    let alone = encoder.embed(&texts[1..], TextKind::Passage).unwrap();
    assert!(cosine(&alone[0], &first[1]) > 0.99999);
    let query = encoder.embed(&texts[..1], TextKind::Query).unwrap();
    assert!(
        cosine(&query[0], &first[0]) < 0.99999,
        "the prefix must change the embedding"
    );
}

#[test]
fn tiny_bert_token_ids_have_the_prefix_and_special_tokens() {
    let (_dir, encoder) = tiny_bert();
    // [CLS] query : how do i renew my passport ? [SEP]
    assert_eq!(
        encoder.token_ids("How do I renew my passport?", TextKind::Query),
        vec![2, 4, 6, 8, 9, 10, 11, 12, 13, 7, 3]
    );
    // [CLS] passage : 办 事 [UNK] [SEP]
    assert_eq!(
        encoder.token_ids("办事 zebra", TextKind::Passage),
        vec![2, 5, 6, 14, 15, 1, 3]
    );
}

#[test]
fn tiny_bert_windows_a_text_longer_than_its_positions() {
    let (_dir, encoder) = tiny_bert();
    let long = "how do i renew my passport ".repeat(10);
    assert!(encoder.token_ids(&long, TextKind::Passage).len() > 16);
    let embedding = &encoder.embed(&[&long], TextKind::Passage).unwrap()[0];
    assert!((norm(embedding) - 1.0).abs() < 1e-5);
    // Windows of the same words: the long text lands near the short one.
    let short = &encoder
        .embed(&["how do i renew my passport"], TextKind::Passage)
        .unwrap()[0];
    assert!(cosine(embedding, short) > 0.5, "{}", cosine(embedding, short));
}

#[test]
fn tiny_xlm_r_uses_the_position_offset_and_unigram_tokenizer() {
    let dir = tempfile::tempdir().unwrap();
    write_model(dir.path(), &XLM_R, unigram_tokenizer(), 20);
    let encoder = Encoder::load(dir.path()).unwrap();
    assert_eq!(
        encoder.token_ids("how do i", TextKind::Query),
        vec![0, 5, 6, 8, 9, 10, 2]
    );
    // 16 positions after the offset: a 14-token window fits, longer texts are windowed.
    let long = "办事居住证 ".repeat(8);
    let embeddings = encoder.embed(&["how do i?", &long], TextKind::Query).unwrap();
    for embedding in &embeddings {
        assert!((norm(embedding) - 1.0).abs() < 1e-5);
    }
    assert_eq!(XLM_R.max_positions - XLM_R.position_offset, 16);
}

#[test]
fn folder_with_a_missing_tensor_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_model(dir.path(), &BERT, wordpiece_tokenizer(), WORDS.len());
    let path = dir.path().join("model.safetensors");
    let mut tensors = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    tensors.remove("encoder.layer.1.output.dense.bias");
    candle_core::safetensors::save(&tensors, &path).unwrap();
    let error = Encoder::load(dir.path()).unwrap_err();
    assert!(
        matches!(&error, Error::User(UserError::MissingTensor { name, .. }) if name == "encoder.layer.1.output.dense.bias"),
        "{error}"
    );
}

#[test]
fn folder_of_an_unsupported_architecture_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_model(dir.path(), &BERT, wordpiece_tokenizer(), WORDS.len());
    let config = std::fs::read_to_string(dir.path().join("config.json"))
        .unwrap()
        .replace("\"bert\"", "\"gpt2\"");
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    let error = Encoder::load(dir.path()).unwrap_err();
    assert!(matches!(error, Error::User(UserError::Unsupported { .. })), "{error}");
}

#[test]
fn folder_with_corrupt_weights_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_model(dir.path(), &BERT, wordpiece_tokenizer(), WORDS.len());
    std::fs::write(dir.path().join("model.safetensors"), b"\x10\0\0\0\0\0\0\0{\"a\":").unwrap();
    let error = Encoder::load(dir.path()).unwrap_err();
    assert!(matches!(error, Error::User(UserError::Invalid { .. })), "{error}");
}
