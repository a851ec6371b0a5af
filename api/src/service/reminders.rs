//! 服务找人: the daily job that reads everyone's e-licences against the rules of
//! `reminders.toml` and writes what is due to their inbox (once an occasion), and the inbox
//! as the citizen sees it.

use std::collections::BTreeMap;

use super::Result;
use crate::state::AppState;
use crate::wire::InboxItemBody;

/// An e-licence with its fields read.
type LicenseFields<'a> = (&'a backend::ELicense, BTreeMap<String, String>);

/// Runs every rule for every person who has reminders on; returns how many reminders were
/// new. Safe to run often and on every replica: an occasion is written once.
pub async fn run(state: &AppState, now: i64) -> Result<usize> {
    let engine = state.engine.load_full();
    if engine.corpus.reminders.is_empty() {
        return Ok(0);
    }
    let today = knowledge::time::today(now);
    let licenses = state.store.e_licenses_for_reminders().await?;
    let mut by_holder: BTreeMap<&str, Vec<LicenseFields<'_>>> = BTreeMap::new();
    for license in &licenses {
        let fields = serde_json::from_str(&license.fields).unwrap_or_default();
        by_holder
            .entry(license.holder_id.as_str())
            .or_default()
            .push((license, fields));
    }
    let date = |text: Option<&str>| text.and_then(|t| t.parse::<chrono::NaiveDate>().ok());
    let mut written = 0;
    for (holder, held) in &by_holder {
        let held: Vec<knowledge::services::Held<'_>> = held
            .iter()
            .map(|(license, fields)| knowledge::services::Held {
                kind: &license.kind,
                issued_on: date(Some(&license.issued_on)),
                expires_on: date(license.expires_on.as_deref()),
                fields,
            })
            .collect();
        for rule in &engine.corpus.reminders {
            let Some(due) = rule.check(&held, today) else {
                continue;
            };
            let new = backend::NewInboxItem {
                user_id: holder.to_string(),
                rule_id: due.rule_id,
                service_id: due.service_id,
                reason: due.reason,
                due: Some(due.date.to_string()),
                occasion: due.occasion,
            };
            if state.store.add_inbox_item(&new, now).await? {
                written += 1;
            }
        }
    }
    if written > 0 {
        tracing::info!(written, "reminders written");
    }
    Ok(written)
}

/// The chat message that starts a service's form from a reminder.
pub fn start_message(engine: &bot::Engine, service_id: &str) -> String {
    let title = engine
        .corpus
        .guide(service_id)
        .map_or_else(|| service_id.to_string(), |g| g.title.clone());
    format!("我要办{title}")
}

/// A citizen's pending reminders, newest first.
pub async fn inbox(state: &AppState, user_id: &str) -> Result<Vec<InboxItemBody>> {
    let engine = state.engine.load_full();
    Ok(state
        .store
        .inbox(user_id)
        .await?
        .into_iter()
        .map(|item| InboxItemBody {
            title: engine
                .corpus
                .guide(&item.service_id)
                .map_or_else(|| item.service_id.clone(), |g| g.title.clone()),
            start: start_message(&engine, &item.service_id),
            id: item.id,
            kind: item.rule_id,
            service_id: item.service_id,
            reason: item.reason,
            due: item.due,
        })
        .collect())
}
