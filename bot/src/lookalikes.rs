//! Look-alikes made from the corpus itself, as the intent head's out-of-scope examples: the
//! services next to the covered ones that no guide offers. A guide's name is an object and an
//! action (居民身份证 + 换领, 个体工商户 + 设立登记); the actions that other names of the same
//! department use, put after this object, make services of the same office that the corpus
//! does not have (户口 + 补领, 个体工商户 + 注销). A pair some guide mentions is not one: an
//! operator who adds a guide for it takes it out of this list, and the head, trained on the
//! examples' hash, is retrained at the next start. No word of this file is a rule: the
//! objects, the actions and the departments all come from the guides.

use std::collections::{BTreeMap, BTreeSet};

use knowledge::Corpus;

/// At most this many look-alikes per department, so that the generated examples do not
/// outweigh the written ones (the intent head weighs its classes by their examples).
const PER_DEPARTMENT: usize = 24;

/// A name cut into its object and its action: the last piece when the dictionary tags it as
/// a verb of two characters or more, and everything before it (two characters or more).
fn object_and_action(index: &index::SearchIndex, name: &str) -> Option<(String, String)> {
    let plain: String = strip_brackets(name);
    let pieces: Vec<(String, String)> = index
        .tagged(&plain)
        .into_iter()
        .filter(|(word, _)| word.chars().any(char::is_alphanumeric))
        .collect();
    let ((action, tag), before) = pieces.split_last()?;
    if !tag.starts_with('v') || action.chars().count() < 2 {
        return None;
    }
    // The object ends in a noun (身份证, 个体工商户): not in a verb or a particle.
    let (_, last_tag) = before.last()?;
    if !last_tag.starts_with('n') {
        return None;
    }
    let object: String = before.iter().map(|(w, _)| w.as_str()).collect();
    (object.chars().count() >= 2).then(|| (object, action.clone()))
}

/// The name without what brackets and quotation marks enclose (新生儿出生“一件事” → 新生儿出生).
fn strip_brackets(name: &str) -> String {
    let mut depth = 0usize;
    let mut out = String::new();
    for c in name.chars() {
        match c {
            '（' | '(' | '“' | '「' | '《' => depth += 1,
            '）' | ')' | '”' | '」' | '》' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The look-alikes of the corpus, in a stable order: for each department, every object of its
/// guides' titles and aliases with every action of its other names, where no guide mentions
/// the pair.
pub fn generate(corpus: &Corpus, index: &index::SearchIndex) -> Vec<String> {
    let mut objects: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut actions: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for guide in &corpus.guides {
        for name in std::iter::once(&guide.title).chain(&guide.aliases) {
            if let Some((object, action)) = object_and_action(index, name) {
                objects.entry(guide.department.as_str()).or_default().insert(object);
                actions.entry(guide.department.as_str()).or_default().insert(action);
            }
        }
    }
    let mut generated = Vec::new();
    for (department, objects) in &objects {
        let Some(actions) = actions.get(department) else {
            continue;
        };
        let mut here: Vec<String> = objects
            .iter()
            .flat_map(|object| actions.iter().map(move |action| format!("{object}{action}")))
            .filter(|pair| !index.mentions(pair))
            .collect();
        // A stable spread over the objects rather than the first object's pairs only.
        here.sort_by_key(|pair| fnv(pair));
        generated.extend(here.into_iter().take(PER_DEPARTMENT));
    }
    generated
}

/// FNV-1a: a hash that is the same on every machine and build (the standard one is not).
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100000001b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> crate::Engine {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../knowledge/data");
        let corpus = knowledge::Corpus::load(&dir).unwrap().corpus;
        crate::Engine::new(corpus, index::IndexConfig::default()).unwrap()
    }

    #[test]
    fn look_alikes_are_services_no_guide_mentions() {
        let engine = engine();
        let generated = generate(&engine.corpus, &engine.index);
        assert!(generated.len() >= 20, "{generated:?}");
        for pair in &generated {
            assert!(!engine.index.mentions(pair), "{pair} is covered");
        }
        // Every guide's own title stays a service.
        for guide in &engine.corpus.guides {
            assert!(!generated.contains(&guide.title), "{}", guide.title);
        }
    }

    #[test]
    fn a_guide_for_a_look_alike_takes_it_out() {
        let engine = engine();
        let generated = generate(&engine.corpus, &engine.index);
        let first = generated.first().unwrap().clone();
        let mut corpus = (*engine.corpus).clone();
        let mut guide = (*corpus.guides[0]).clone();
        guide.id = "added".into();
        guide.title = first.clone();
        guide.aliases.clear();
        corpus.guides.push(std::sync::Arc::new(guide));
        let engine = crate::Engine::new(corpus, index::IndexConfig::default()).unwrap();
        assert!(!generate(&engine.corpus, &engine.index).contains(&first));
    }
}
