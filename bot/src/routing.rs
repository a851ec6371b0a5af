//! Ticket routing: which first-level category (and so which lead department) a 12345 message
//! belongs to. Two classifiers trained on the examples in `knowledge/data/ticket_examples.toml`
//! — naive Bayes over the index's terms (always there) and a candle head on the encoder's
//! embeddings (when the model is installed) — and their ensemble, the average of the two
//! distributions, which is the default. `banshi eval tickets --cv K` compares the three by
//! cross-validation on our own examples; see ARCHITECTURE.md for the figures.

use crate::{Engine, Result};

/// Which classifier picks the category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Classifier {
    /// Naive Bayes over index terms.
    Bayes,
    /// The candle head on e5 embeddings.
    Head,
    /// The mean of both distributions (Bayes alone without the encoder).
    #[default]
    Ensemble,
}

impl std::str::FromStr for Classifier {
    type Err = String;
    fn from_str(text: &str) -> std::result::Result<Classifier, String> {
        match text {
            "bayes" | "nb" => Ok(Classifier::Bayes),
            "head" => Ok(Classifier::Head),
            "ensemble" => Ok(Classifier::Ensemble),
            other => Err(format!("unknown classifier {other:?} (bayes, head, ensemble)")),
        }
    }
}

impl Classifier {
    pub fn name(self) -> &'static str {
        match self {
            Classifier::Bayes => "naive Bayes over index terms",
            Classifier::Head => "candle head on e5 embeddings",
            Classifier::Ensemble => "mean of naive Bayes and the candle head",
        }
    }
}

/// Label → probability, best first.
pub type Distribution = Vec<(String, f32)>;

/// Mixes distributions with the given weights; labels missing from one count as 0 there.
pub fn mix(parts: &[(&Distribution, f32)]) -> Distribution {
    let mut out: Distribution = Vec::new();
    for (dist, weight) in parts {
        for (label, p) in dist.iter() {
            match out.iter_mut().find(|(l, _)| l == label) {
                Some((_, q)) => *q += weight * p,
                None => out.push((label.clone(), weight * p)),
            }
        }
    }
    let total: f32 = out.iter().map(|(_, p)| p).sum();
    if total > 0.0 {
        for (_, p) in &mut out {
            *p /= total;
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// A head's probabilities of an embedding, best first.
fn head_distribution(head: &models::heads::LinearHead, vector: &[f32]) -> Distribution {
    let mut dist: Distribution = head.labels.iter().cloned().zip(head.probabilities(vector)).collect();
    dist.sort_by(|a, b| b.1.total_cmp(&a.1));
    dist
}

/// The distribution a classifier gives from the head's (when there is one) and Bayes's.
fn combine(classifier: Classifier, head: Option<&Distribution>, bayes: impl FnOnce() -> Distribution) -> Distribution {
    match (classifier, head) {
        (Classifier::Head, Some(head)) => head.clone(),
        (Classifier::Ensemble, Some(head)) => mix(&[(head, 0.5), (&bayes(), 0.5)]),
        _ => bayes(),
    }
}

impl Engine {
    /// The classifier `route` uses: the ensemble when the encoder's head is there, else Bayes.
    pub fn route_classifier(&self) -> Classifier {
        if self.semantic.as_ref().is_some_and(|s| s.ticket_head.is_some()) {
            self.classifier
        } else {
            Classifier::Bayes
        }
    }

    /// Category distribution of a message under one classifier (Bayes where the head is
    /// missing).
    pub fn route_distribution(&self, text: &str, classifier: Classifier) -> Result<Distribution> {
        let bayes = || self.router.distribution(&self.index.terms(text));
        let head = match (classifier, self.semantic.as_ref()) {
            (Classifier::Bayes, _) | (_, None) => None,
            (_, Some(semantic)) => match &semantic.ticket_head {
                Some(head) => Some(head_distribution(head, &semantic.embed_query(text)?)),
                None => None,
            },
        };
        Ok(combine(classifier, head.as_ref(), bayes))
    }

    /// Every category, most likely first (a returned ticket goes to the next one whose
    /// department differs); empty when the classifier fails.
    pub fn route_ranked(&self, text: &str) -> Vec<String> {
        self.route_distribution(text, self.route_classifier())
            .map(|dist| dist.into_iter().map(|(category, _)| category).collect())
            .unwrap_or_default()
    }

    /// A ticket's category, its lead department (the district's own bureau when the text
    /// names a district that has one) and the classifier's confidence.
    pub fn route(&self, text: &str) -> Option<(String, String, f32)> {
        let dist = self.route_distribution(text, self.route_classifier()).ok()?;
        let (category, confidence) = dist.into_iter().next()?;
        let rules = &self.corpus.tickets;
        let department = rules.department_in(&category, rules.district_in(text))?.to_string();
        Some((category, department, confidence))
    }
}

/// The expected labels and, per classifier, its held-out predictions.
pub type Folds = (Vec<String>, Vec<(Classifier, Vec<String>)>);

/// Cross-validation on the engine's own ticket examples: example `i` is held out in fold
/// `i % k` (the file lists each category together, so every fold sees every category).
/// Returns the expected labels and, per classifier, the held-out predictions.
pub fn cross_validate(engine: &Engine, k: usize, cache_dir: Option<&std::path::Path>) -> Result<Folds> {
    let examples = &engine.corpus.ticket_examples;
    let k = k.clamp(2, examples.len().max(2));
    let terms: Vec<Vec<String>> = examples.iter().map(|(_, t)| engine.index.terms(t)).collect();
    let vectors = match &engine.semantic {
        Some(semantic) => {
            let mut cache = crate::semantic::EmbeddingCache::open(cache_dir, &semantic.encoder);
            let texts: Vec<&str> = examples.iter().map(|(_, t)| t.as_str()).collect();
            let vectors = cache.embed(&semantic.encoder, &texts, models::TextKind::Query)?;
            let _ = cache.save();
            Some(vectors)
        }
        None => None,
    };
    let expected: Vec<String> = examples.iter().map(|(l, _)| l.clone()).collect();
    let classifiers: &[Classifier] = if vectors.is_some() {
        &[Classifier::Bayes, Classifier::Head, Classifier::Ensemble]
    } else {
        &[Classifier::Bayes]
    };
    let mut predicted: Vec<Vec<String>> = vec![vec![String::new(); examples.len()]; classifiers.len()];
    for fold in 0..k {
        let train: Vec<usize> = (0..examples.len()).filter(|i| i % k != fold).collect();
        let train_examples: Vec<(String, String)> = train.iter().map(|&i| examples[i].clone()).collect();
        let bayes = crate::tickets::Router::train(&train_examples, |t| engine.index.terms(t));
        let head = match &vectors {
            Some(vectors) => {
                let labelled: Vec<(String, Vec<f32>)> = train
                    .iter()
                    .map(|&i| (examples[i].0.clone(), vectors[i].clone()))
                    .collect();
                Some(models::heads::LinearHead::train(
                    &labelled,
                    crate::semantic::head_config("ticket"),
                )?)
            }
            None => None,
        };
        for i in (0..examples.len()).filter(|i| i % k == fold) {
            let nb = bayes.distribution(&terms[i]);
            let head_dist = head
                .as_ref()
                .zip(vectors.as_ref())
                .map(|(h, v)| head_distribution(h, &v[i]));
            for (c, classifier) in classifiers.iter().enumerate() {
                let dist = combine(*classifier, head_dist.as_ref(), || nb.clone());
                predicted[c][i] = dist.first().map(|(l, _)| l.clone()).unwrap_or_default();
            }
        }
    }
    Ok((expected, classifiers.iter().copied().zip(predicted).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixing_averages_and_renormalises() {
        let a = vec![("x".to_string(), 0.9), ("y".to_string(), 0.1)];
        let b = vec![("y".to_string(), 0.7), ("z".to_string(), 0.3)];
        let m = mix(&[(&a, 0.5), (&b, 0.5)]);
        assert_eq!(m[0].0, "x");
        assert!((m[0].1 - 0.45).abs() < 1e-6);
        assert!((m[1].1 - 0.40).abs() < 1e-6);
        assert!((m.iter().map(|(_, p)| p).sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn classifier_names_parse() {
        assert_eq!("nb".parse::<Classifier>().unwrap(), Classifier::Bayes);
        assert_eq!("ensemble".parse::<Classifier>().unwrap(), Classifier::Ensemble);
        assert!("svm".parse::<Classifier>().is_err());
    }
}
