//! Knowledge gaps: what citizens asked that no guide answered, masked and grouped by meaning,
//! so an operator sees “离婚登记 — 37 questions, closest: 结婚登记” and writes that guide.
//! Grouping uses the encoder's vectors when the model is installed, else character bigrams
//! weighted by how rare they are in the guides (the words every question shares, 怎么, 需要,
//! 申请, weigh little).

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use regex::Regex;

use crate::Engine;

/// Mean cosine to a group's members from which a question joins it: encoder vectors
/// (multilingual E5 puts unrelated Chinese questions at 0.83–0.88, paraphrases above 0.9) and
/// bigram vectors.
pub const SAME_ENCODER: f32 = 0.89;
const SAME_BIGRAMS: f32 = 0.30;

static LONG_NUMBER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\d[\d\s-]{4,}\d[x]?").unwrap());
static NAMED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(我叫|名字叫|名字是|姓名[：:是为]?\s*|叫做)\p{Han}{2,4}").unwrap());
static DOOR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\d+(号|弄|幢|栋|单元|室)").unwrap());

/// The text kept of a question: ID, phone and other long numbers, door numbers and names
/// said as “我叫…” replaced; what it asks about kept.
pub fn redact(text: &str) -> String {
    let text = LONG_NUMBER.replace_all(text, "＊");
    let text = DOOR.replace_all(&text, "＊$1");
    let text = NAMED.replace_all(&text, "${1}某某");
    text.chars().take(300).collect()
}

/// Groups `texts` by meaning: each group lists indices into `texts`, the most typical first;
/// the largest group first.
pub fn cluster(engine: &Engine, texts: &[&str]) -> crate::Result<Vec<Vec<usize>>> {
    let (vectors, same) = match &engine.semantic {
        Some(semantic) => (embed_remembered(&semantic.encoder, texts)?, SAME_ENCODER),
        None => (bigram_vectors(engine, texts), SAME_BIGRAMS),
    };
    Ok(cluster_vectors(vectors, same))
}

/// Most question vectors remembered between reports (about 1.5 KB each); past it the memory
/// starts again.
const REMEMBERED: usize = 20_000;

/// The questions' vectors by text, kept between reports: every report of a period reads the
/// same questions again (the dashboard at each look), and embedding is what costs (about
/// 5 ms a question on two cores; 1,000 questions took 6 s a look before).
static VECTORS: LazyLock<Mutex<HashMap<String, Vec<f32>>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn embed_remembered(encoder: &models::Encoder, texts: &[&str]) -> crate::Result<Vec<Vec<f32>>> {
    let mut missing: Vec<&str> = {
        let known = VECTORS.lock().unwrap_or_else(|e| e.into_inner());
        texts.iter().copied().filter(|t| !known.contains_key(*t)).collect()
    };
    missing.sort_unstable();
    missing.dedup();
    let fresh = encoder.embed(&missing, models::TextKind::Query)?;
    let mut known = VECTORS.lock().unwrap_or_else(|e| e.into_inner());
    if known.len() + fresh.len() > REMEMBERED {
        known.clear();
    }
    for (text, vector) in missing.iter().zip(fresh) {
        known.insert((*text).to_string(), vector);
    }
    // A text forgotten by a clear made for another report is embedded again, alone.
    texts
        .iter()
        .map(|t| match known.get(*t) {
            Some(v) => Ok(v.clone()),
            None => Ok(encoder.embed(&[t], models::TextKind::Query)?.remove(0)),
        })
        .collect()
}

/// Greedy average-linkage grouping: each vector joins the group whose members it is closest
/// to on average, if that average cosine is at least `same`, else starts one. Members are
/// ordered most typical first (closest on average to the others), the largest group first.
pub fn cluster_vectors(vectors: Vec<Vec<f32>>, same: f32) -> Vec<Vec<usize>> {
    let vectors: Vec<Vec<f32>> = vectors.into_iter().map(unit).collect();
    let mean_to = |i: usize, members: &[usize]| {
        let others: Vec<&usize> = members.iter().filter(|&&m| m != i).collect();
        if others.is_empty() {
            return 1.0;
        }
        others.iter().map(|&&m| dot(&vectors[i], &vectors[m])).sum::<f32>() / others.len() as f32
    };
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for i in 0..vectors.len() {
        let best = groups
            .iter()
            .enumerate()
            .map(|(g, members)| (g, mean_to(i, members)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((g, score)) if score >= same => groups[g].push(i),
            _ => groups.push(vec![i]),
        }
    }
    for members in &mut groups {
        let typical: Vec<(usize, f32)> = members.iter().map(|&m| (m, mean_to(m, members))).collect();
        members.sort_by(|a, b| {
            let score = |x: &usize| typical.iter().find(|(m, _)| m == x).map_or(0.0, |(_, s)| *s);
            score(b).total_cmp(&score(a)).then(a.cmp(b))
        });
    }
    groups.sort_by(|a, b| b.len().cmp(&a.len()).then(a.iter().min().cmp(&b.iter().min())));
    groups
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = dot(&v, &v).sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}

fn bigrams(text: &str) -> Vec<String> {
    let chars: Vec<char> = index::normalize(text).chars().filter(|c| c.is_alphanumeric()).collect();
    chars.windows(2).map(|w| w.iter().collect()).collect()
}

/// Bigram counts weighted by their rarity in the guides (idf over titles, aliases,
/// summaries and FAQ questions; a bigram no guide has weighs most).
fn bigram_vectors(engine: &Engine, texts: &[&str]) -> Vec<Vec<f32>> {
    let guides = &engine.corpus.guides;
    let mut df: HashMap<String, usize> = HashMap::new();
    for guide in guides {
        let mut text = format!("{} {} {}", guide.title, guide.aliases.join(" "), guide.summary);
        for faq in &guide.faq {
            text.push(' ');
            text.push_str(&faq.q);
        }
        let mut seen: Vec<String> = bigrams(&text);
        seen.sort();
        seen.dedup();
        for b in seen {
            *df.entry(b).or_default() += 1;
        }
    }
    let n = guides.len().max(1) as f32;
    let mut vocabulary: HashMap<String, usize> = HashMap::new();
    let counted: Vec<HashMap<usize, f32>> = texts
        .iter()
        .map(|text| {
            let mut counts: HashMap<usize, f32> = HashMap::new();
            for b in bigrams(text) {
                let idf = (1.0 + n / (1.0 + *df.get(&b).unwrap_or(&0) as f32)).ln();
                let next = vocabulary.len();
                let id = *vocabulary.entry(b).or_insert(next);
                *counts.entry(id).or_default() += idf;
            }
            counts
        })
        .collect();
    counted
        .into_iter()
        .map(|counts| {
            let mut v = vec![0.0; vocabulary.len()];
            for (id, w) in counts {
                v[id] = w;
            }
            v
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With the encoder, questions group by meaning even without shared words. The model
    /// comes from scripts/fetch-models.sh (required in CI).
    #[test]
    fn the_encoder_groups_questions_by_meaning() {
        let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/models/e5-small-q4.bin");
        if !model.is_file() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs the model: run scripts/fetch-models.sh"
            );
            eprintln!("skipping: {} missing", model.display());
            return;
        }
        let encoder = models::Encoder::load(&model).unwrap();
        let texts = [
            "养犬登记怎么办理",
            "家里新养了一条狗，要去哪里给它办证",
            "宠物狗的证件到期了怎么年审",
            "公租房怎么申请",
            "想租政府的保障性住房，收入有什么要求",
            "船员证过期了去哪换",
        ];
        let vectors = encoder.embed(&texts, models::TextKind::Query).unwrap();
        let mut groups = cluster_vectors(vectors, SAME_ENCODER);
        for g in &mut groups {
            g.sort();
        }
        groups.sort();
        assert_eq!(groups, vec![vec![0, 1, 2], vec![3, 4], vec![5]]);

        // Remembered between reports: the same vectors, and a remembered one is used as it is
        // (a marker put in its place comes back) instead of being embedded again.
        let first = embed_remembered(&encoder, &texts[..3]).unwrap();
        for (remembered, direct) in first
            .iter()
            .zip(&encoder.embed(&texts[..3], models::TextKind::Query).unwrap())
        {
            let cosine: f32 = remembered.iter().zip(direct).map(|(a, b)| a * b).sum();
            assert!(cosine > 0.999, "{cosine}");
        }
        VECTORS.lock().unwrap().insert(texts[1].to_string(), vec![7.0; 3]);
        let second = embed_remembered(&encoder, &texts[..3]).unwrap();
        assert_eq!(second[1], vec![7.0; 3]);
        assert_eq!(second[0], first[0]);
    }

    #[test]
    fn personal_data_is_masked_and_the_question_kept() {
        let text =
            redact("我叫王小明，身份证330102198803151234，电话 139-1234-5678，住幸福路12号3幢501室，养狗要登记吗");
        for secret in ["王小明", "330102198803151234", "5678", "501", "12号"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("养狗要登记吗") && text.contains("幸福路"), "{text}");
    }
}
