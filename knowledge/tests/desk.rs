//! The service desk's data as `banshi knowledge check` reads it: every guide that offers
//! online handling has a form, uploads name real materials, and the halls and reminder rules
//! name real services.

use knowledge::{Corpus, Severity};

mod common;
use common::corpus_copy;

fn messages(dir: &std::path::Path, severity: Severity) -> Vec<String> {
    Corpus::load(dir)
        .unwrap()
        .diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .map(|d| d.to_string())
        .collect()
}

#[test]
fn the_sample_corpus_has_a_form_for_every_guide_offered_online() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let outcome = Corpus::load(&dir).unwrap();
    let corpus = &outcome.corpus;
    let missing: Vec<&str> = corpus
        .guides
        .iter()
        .filter(|g| !g.channels.online.is_empty() && corpus.form(&g.id).is_none())
        .map(|g| g.id.as_str())
        .collect();
    assert!(missing.is_empty(), "online without a form: {missing:?}");
    assert!(outcome.diagnostics.is_empty(), "{:?}", outcome.diagnostics);
    assert!(!corpus.halls.is_empty() && !corpus.reminders.is_empty());
    // Company services too, and some ask for files.
    assert!(corpus.form("food-business-permit").is_some());
    assert!(
        corpus
            .guides
            .iter()
            .filter_map(|g| corpus.form(&g.id))
            .any(|f| !f.uploads.is_empty())
    );
}

#[test]
fn a_guide_offered_online_without_a_form_is_reported() {
    let dir = corpus_copy();
    std::fs::remove_file(dir.path().join("forms/passport.toml")).unwrap();
    let warnings = messages(dir.path(), Severity::Warning);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("passport.toml") && w.contains("没有申请表")),
        "{warnings:?}"
    );
    assert!(messages(dir.path(), Severity::Error).is_empty());
}

#[test]
fn an_upload_naming_no_material_of_its_guide_is_an_error() {
    let dir = corpus_copy();
    let path = dir.path().join("forms/passport.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n[[upload]]\nmaterial = \"不存在的材料\"\n");
    std::fs::write(&path, text).unwrap();
    let errors = messages(dir.path(), Severity::Error);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("不存在的材料") && e.contains("[[materials]]")),
        "{errors:?}"
    );
}

#[test]
fn halls_and_reminders_naming_unknown_services_are_errors() {
    let dir = corpus_copy();
    let halls = dir.path().join("halls.toml");
    let text = std::fs::read_to_string(&halls)
        .unwrap()
        .replacen("\"passport\"", "\"no-such-service\"", 1)
        .replacen("09:00-12:00", "12:00-09:00", 1);
    std::fs::write(&halls, text).unwrap();
    let reminders = dir.path().join("reminders.toml");
    let text = std::fs::read_to_string(&reminders).unwrap().replacen(
        "e_license = \"driving_license\"",
        "e_license = \"no_such_licence\"",
        1,
    );
    std::fs::write(&reminders, text).unwrap();
    let errors = messages(dir.path(), Severity::Error);
    for wanted in ["no-such-service", "12:00-09:00", "no_such_licence"] {
        assert!(errors.iter().any(|e| e.contains(wanted)), "{wanted}: {errors:?}");
    }
}
