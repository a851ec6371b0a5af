//! The knowledge-gap report: the declined and unsure questions and bad ratings' reasons of a
//! period, grouped by meaning (`bot::gaps::cluster`), each group with its count, examples and
//! the closest guide, largest first. Shared by `GET /api/v1/stats/gaps` and `banshi gaps`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Error, Result};
use crate::wire::{GapCluster, GapReport, GuideRef};

/// Most gaps read for one report (the newest are dropped past it).
const MAX_GAPS: i64 = 5000;

pub async fn report(store: &backend::Store, engine: Arc<bot::Engine>, since: i64, top: usize) -> Result<GapReport> {
    let gaps = store.gaps_since(since, MAX_GAPS).await?;
    let texts: Vec<String> = gaps.iter().map(|g| g.text.clone()).collect();
    let grouped = {
        let engine = engine.clone();
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            bot::gaps::cluster(&engine, &refs)
        })
        .await?
        .map_err(Error::internal)?
    };
    let mut clusters = Vec::new();
    for members in grouped.iter().take(top) {
        let mut examples: Vec<String> = Vec::new();
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        let mut closest: BTreeMap<&str, usize> = BTreeMap::new();
        for &i in members {
            let gap = &gaps[i];
            if examples.len() < 3 && !examples.contains(&gap.text) {
                examples.push(gap.text.clone());
            }
            *kinds.entry(gap.kind.clone()).or_default() += 1;
            if let Some(id) = gap.closest.as_deref() {
                *closest.entry(id).or_default() += 1;
            }
        }
        // The guide named most often when they were asked, else the best match of the most
        // typical question now.
        let closest_id = match closest.iter().max_by_key(|(_, n)| **n) {
            Some((id, _)) => Some(id.to_string()),
            None => engine
                .retrieve(&gaps[members[0]].text, 1, engine.default_mode())
                .map_err(Error::internal)?
                .first()
                .map(|r| r.id.clone()),
        };
        let closest = closest_id
            .and_then(|id| engine.corpus.guide(&id).cloned())
            .map(|g| GuideRef {
                id: g.id.clone(),
                title: g.title.clone(),
                score: 0.0,
            });
        clusters.push(GapCluster {
            topic: gaps[members[0]].text.clone(),
            count: members.len(),
            examples,
            kinds,
            closest,
        });
    }
    Ok(GapReport {
        since: knowledge::time::show(since),
        n_questions: gaps.len(),
        n_topics: grouped.len(),
        clusters,
    })
}

/// The report as lines for the terminal.
pub fn render(report: &GapReport) -> String {
    let mut lines = vec![format!(
        "自 {} 起：{} 条未能解答的提问与差评原因，{} 个主题",
        report.since, report.n_questions, report.n_topics
    )];
    for (i, cluster) in report.clusters.iter().enumerate() {
        let closest = cluster
            .closest
            .as_ref()
            .map_or_else(|| "无".to_string(), |g| format!("{}（{}）", g.title, g.id));
        lines.push(format!(
            "{:>2}. {} — {} 条，最接近：{closest}",
            i + 1,
            cluster.topic,
            cluster.count
        ));
        for example in cluster.examples.iter().skip(1) {
            lines.push(format!("      例：{example}"));
        }
    }
    lines.join("\n")
}
