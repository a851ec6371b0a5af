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
