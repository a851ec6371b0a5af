//! Quality gate: the lexical assistant on our own eval set stays at or above the targets of
//! the foundation issue. A change that loses recall or intent accuracy fails here, with the
//! table and the misses printed.

use std::path::Path;

#[test]
fn eval_set_meets_the_foundation_targets() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cases = evals::load_dataset(&root.join("data/queries.jsonl")).unwrap();
    assert!(cases.len() >= 200, "the eval set has {} cases", cases.len());
    let corpus = knowledge::Corpus::load(&root.join("../knowledge/data")).unwrap().corpus;
    let engine = bot::Engine::new(corpus, index::IndexConfig::default()).unwrap();
    let report = evals::run(&engine, &cases).unwrap();
    let misses: Vec<String> = report
        .misses
        .iter()
        .map(|m| format!("{} → {} {:?}", m.query, m.intent.as_str(), m.got))
        .collect();
    let context = format!("{}\n{}", report.table(), misses.join("\n"));
    assert!(report.recall_at_1 >= 0.80, "{context}");
    assert!(report.recall_at_3 >= 0.92, "{context}");
    assert!(report.intent_accuracy >= 0.85, "{context}");
}

/// With the encoder (scripts/fetch-models.sh): hybrid retrieval beats dense alone and BM25
/// alone, and the intent head keeps intent accuracy up. Floors a little under the measured
/// figures (see the model issue's closing note), so a regression fails here.
#[test]
fn hybrid_beats_each_retrieval_alone() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(mut engine) = engine_with_model() else {
        return;
    };
    let cases = evals::load_dataset(&root.join("data/queries.jsonl")).unwrap();
    let mut recall = std::collections::BTreeMap::new();
    for mode in [bot::Mode::Bm25, bot::Mode::Dense, bot::Mode::Hybrid] {
        engine.mode = mode;
        let report = evals::run(&engine, &cases).unwrap();
        recall.insert(
            format!("{mode:?}"),
            (report.recall_at_1, report.intent_accuracy, report.oos_recall),
        );
    }
    let (hybrid, dense, bm25) = (recall["Hybrid"], recall["Dense"], recall["Bm25"]);
    assert!(hybrid.0 > dense.0 && hybrid.0 > bm25.0, "{recall:?}");
    assert!(hybrid.0 >= 0.93, "{recall:?}");
    assert!(hybrid.1 >= 0.95, "{recall:?}");
    assert!(hybrid.2 >= 0.85, "{recall:?}");
}

/// The eval set measures generalisation only if none of its questions is also a training
/// example: no intent or ticket example may repeat an eval query (after trimming and
/// ignoring punctuation and case).
#[test]
fn no_eval_query_is_a_training_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cases = evals::load_dataset(&root.join("data/queries.jsonl")).unwrap();
    let corpus = knowledge::Corpus::load(&root.join("../knowledge/data")).unwrap().corpus;
    let normalise = |text: &str| -> String {
        text.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let training: std::collections::HashMap<String, &str> = corpus
        .intent_examples
        .iter()
        .chain(&corpus.ticket_examples)
        .map(|(_, text)| (normalise(text), text.as_str()))
        .collect();
    let leaked: Vec<&str> = cases
        .iter()
        .filter_map(|case| training.get(&normalise(&case.query)).copied())
        .collect();
    assert!(
        leaked.is_empty(),
        "eval queries also in the training examples: {leaked:?}"
    );
}

/// The engine with the encoder, or `None` (skipping, outside CI) when the model files are
/// missing.
fn engine_with_model() -> Option<bot::Engine> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model_dir = std::env::var_os("BANSHI_MODEL_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("../.cache/models"));
    let model_file = model_dir.join("e5-small-q4.bin");
    if !model_file.is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs the model: run scripts/fetch-models.sh"
        );
        eprintln!(
            "skipping: {} missing (run scripts/fetch-models.sh)",
            model_file.display()
        );
        return None;
    }
    let encoder = std::sync::Arc::new(models::Encoder::load(&model_file).unwrap());
    let corpus = knowledge::Corpus::load(&root.join("../knowledge/data")).unwrap().corpus;
    Some(
        bot::Engine::with_encoder(
            corpus,
            index::IndexConfig::default(),
            encoder,
            Some(&model_dir.join("cache")),
        )
        .unwrap(),
    )
}

/// 12345 routing on real citizen messages (the Teddy Cup 2020 C sample, evaluation only:
/// read from `../shared/data/`, never copied here or trained on). Skips with a message
/// where that folder is absent, as in a fresh clone elsewhere.
#[test]
fn ticket_routing_meets_its_targets_on_real_messages() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dataset = std::env::var_os("BANSHI_TICKET_EVAL")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("../../shared/data/teddycup2020c/teddycup2020c_messages_labeled.jsonl"));
    if !dataset.is_file() {
        eprintln!(
            "skipping: {} absent (evaluation data kept outside the repository)",
            dataset.display()
        );
        return;
    }
    let Some(engine) = engine_with_model() else {
        return;
    };
    let cases = evals::load_ticket_dataset(&dataset).unwrap();
    let expected: Vec<String> = cases.iter().map(|(_, label)| label.clone()).collect();
    let predicted: Vec<String> = cases
        .iter()
        .map(|(message, _)| engine.route(message).map_or_else(|| "其他".into(), |r| r.0))
        .collect();
    let (accuracy, macro_f1) = evals::accuracy_and_macro_f1(&expected, &predicted);
    let report = evals::classification_report(&expected, &predicted);
    assert!(accuracy >= 0.80 && macro_f1 >= 0.75, "{report}");
}
