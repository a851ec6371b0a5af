//! 好差评 as a workflow: a rating is accepted only for the rater's own application, ticket or
//! conversation; a bad one needs a reason and opens a rectification with a deadline in
//! working days; statistics and hotline KPIs are counted by the database.

use std::collections::BTreeMap;

use knowledge::time::{local, millis, show};

use super::{Error, Result};
use crate::auth::{Role, User};
use crate::state::AppState;
use bot::Engine;

/// A rating whose target was checked to be the rater's own, ready to store.
pub struct Checked {
    pub new: backend::NewRating,
    pub rectification_due: i64,
}

/// What was stored.
pub struct Saved {
    pub rating: backend::Rating,
    pub changed: bool,
    pub rectification_due: Option<i64>,
}

pub fn level_label(level: i64) -> &'static str {
    bot::tickets::LEVELS[(level.clamp(1, 5) - 1) as usize]
}

/// Checks the target is the citizen's own (an application they applied for, a ticket they
/// filed, a conversation they had) and that a bad rating says why. `session_id` is the
/// conversation the rating is given in, if any.
pub async fn check(
    state: &AppState,
    engine: &Engine,
    user: &User,
    target: (&str, &str),
    rating: &bot::RatingRequest,
    channel: &str,
    session_id: Option<&str>,
) -> Result<Checked> {
    let (kind, id) = target;
    let not_found = || Error::NotFound("没有找到要评价的办件、工单或对话（只能评价您本人的）。".into());
    let (department, service_id) = match kind {
        "application" => {
            let application = state.store.application(id).await?.ok_or_else(not_found)?;
            if application.applicant_id != user.id {
                return Err(not_found());
            }
            let department = engine
                .corpus
                .guide(&application.service_id)
                .map(|g| g.department.clone());
            (department.unwrap_or_default(), Some(application.service_id))
        }
        "ticket" => {
            let ticket = state.store.ticket(id).await?.ok_or_else(not_found)?;
            if ticket.citizen_id.as_deref() != Some(user.id.as_str()) {
                return Err(not_found());
            }
            (ticket.department, None)
        }
        "conversation" => {
            // The conversation being had now is the rater's by construction; any other must
            // be one they had while logged in.
            if session_id != Some(id) {
                let session = state.store.session(id).await?.ok_or_else(not_found)?;
                if session.user_id.as_deref() != Some(user.id.as_str()) {
                    return Err(not_found());
                }
            }
            ("hotline-12345".to_string(), None)
        }
        _ => {
            return Err(Error::Invalid(
                "target_kind：评价对象应为 application（办件）、ticket（工单）或 conversation（对话）。".into(),
            ));
        }
    };
    if id.trim().is_empty() {
        return Err(Error::Invalid(
            "target_id：请填写要评价的办件编号、工单编号或会话编号。".into(),
        ));
    }
    if rating.level <= 2 && rating.comment.trim().is_empty() && rating.tags.is_empty() {
        return Err(Error::Missing(
            "差评需要说明原因（选择标签或填写意见），以便部门整改。".into(),
        ));
    }
    let now = state.clock.now();
    let rectification_due = millis(engine.corpus.tickets.add_working_days(
        &engine.corpus.calendar,
        local(now),
        state.rectification_days,
    ));
    Ok(Checked {
        new: backend::NewRating {
            target_kind: kind.to_string(),
            target_id: id.to_string(),
            citizen_id: user.id.clone(),
            level: rating.level,
            tags: rating.tags.clone(),
            comment: rating.comment.trim().to_string(),
            channel: channel.to_string(),
            department,
            service_id,
        },
        rectification_due,
    })
}

/// Stores a checked rating inside the caller's transaction.
pub async fn record_in(tx: &mut backend::Tx, state: &AppState, checked: &Checked, now: i64) -> Result<Saved> {
    let window = i64::from(state.rating_window_days) * 86_400_000;
    let (rating, created) = tx
        .rate(&checked.new, window, checked.rectification_due, now)
        .await
        .map_err(|err| match err {
            backend::Error::InvalidTransition { .. } => {
                Error::Conflict(format!("评价提交已超过 {} 天，不能再修改。", state.rating_window_days))
            }
            backend::Error::Conflict(_) => Error::Conflict("这条评价刚刚已提交，请刷新查看。".into()),
            other => Error::internal(other),
        })?;
    let rectification_due = rating.is_bad().then_some(checked.rectification_due);
    // A bad rating's reason says what was missing: kept, masked, with the knowledge gaps.
    if rating.is_bad() && !checked.new.comment.trim().is_empty() {
        tx.add_gap(
            "bad_rating",
            &bot::gaps::redact(&checked.new.comment),
            checked.new.service_id.as_deref(),
            now,
        )
        .await?;
    }
    Ok(Saved {
        rating,
        changed: !created,
        rectification_due,
    })
}

/// What the citizen reads after rating in conversation.
pub fn recorded_text(saved: &Saved) -> String {
    let label = level_label(saved.rating.level);
    let mut text = match saved.rectification_due {
        Some(due) => format!(
            "已记录您的评价：{label}。我们已转交责任部门核实整改，整改期限至 {}，整改后会回访您。",
            show(due)
        ),
        None => format!("已记录您的评价：{label}。感谢您的反馈！"),
    };
    if saved.changed {
        text.push_str("（已更新您之前的评价）");
    }
    text
}

/// `POST /api/v1/ratings`: checks and stores in one transaction.
pub async fn rate(
    state: &AppState,
    user: &User,
    target: (&str, &str),
    rating: &bot::RatingRequest,
    channel: &str,
) -> Result<Saved> {
    let engine = state.engine.load_full();
    let checked = check(state, &engine, user, target, rating, channel, None).await?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let saved = record_in(&mut tx, state, &checked, now).await?;
    tx.commit().await?;
    Ok(saved)
}

fn require_staff(user: &User) -> Result<()> {
    if user.has(Role::Admin) || user.has(Role::DeptStaff) || user.has(Role::Agent) {
        Ok(())
    } else {
        Err(Error::Forbidden("只有工作人员可以查看统计。".into()))
    }
}

/// Rating statistics grouped by department, service, channel or month.
pub async fn stats(state: &AppState, user: &User, by: &str) -> Result<BTreeMap<String, backend::RatingStats>> {
    require_staff(user)?;
    if !["department", "service", "channel", "month"].contains(&by) {
        return Err(Error::Invalid(
            "by：只能是 department、service、channel 或 month。".into(),
        ));
    }
    Ok(state.store.rating_stats(by, None).await?)
}

/// Hotline KPIs; satisfaction counts ratings of tickets only.
pub struct HotlineKpis {
    pub counts: backend::HotlineCounts,
    pub n_rated: usize,
    pub n_satisfied: usize,
}

pub async fn hotline(state: &AppState, user: &User) -> Result<HotlineKpis> {
    require_staff(user)?;
    let counts = state.store.hotline_counts().await?;
    let ticket_stats = state.store.rating_stats("department", Some("ticket")).await?;
    let (n_rated, n_satisfied) = ticket_stats
        .values()
        .fold((0, 0), |(r, s), x| (r + x.n_ratings, s + x.n_satisfied));
    Ok(HotlineKpis {
        counts,
        n_rated,
        n_satisfied,
    })
}

/// A step of a bad rating's rectification: verified, rectified, visited or appealed by the
/// department it was given to; appeal_upheld or appeal_rejected by an administrator.
pub async fn rectify(
    state: &AppState,
    user: &User,
    rating_id: &str,
    step: &str,
    text: &str,
) -> Result<backend::Rectification> {
    let current = state
        .store
        .rectification(rating_id)
        .await?
        .ok_or_else(|| Error::NotFound("没有这条整改任务。".into()))?;
    let allowed = if step.starts_with("appeal_") {
        user.has(Role::Admin)
    } else {
        user.department.as_deref() == Some(current.department.as_str())
    };
    if !allowed {
        return Err(Error::Forbidden("无权办理这条整改任务。".into()));
    }
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::Missing("text：请填写核实、整改、回访或申诉的情况。".into()));
    }
    let label = |code: &str| match code {
        "open" => "待核实",
        "verified" => "已核实",
        "rectified" => "已整改",
        "visited" => "已回访",
        "appealed" => "申诉中",
        "appeal_upheld" => "申诉成立",
        "appeal_rejected" => "驳回申诉",
        _ => "其他",
    };
    state
        .store
        .rectify(rating_id, step, text, state.clock.now())
        .await
        .map_err(|err| match err {
            backend::Error::InvalidTransition { from, .. } => Error::Conflict(format!(
                "整改任务当前为“{}”，不能执行“{}”（step 可为 verified、rectified、visited、appealed、appeal_upheld、appeal_rejected）。",
                label(from),
                label(step)
            )),
            backend::Error::Conflict(_) => Error::Conflict("整改任务刚刚被他人更新，请刷新后重试。".into()),
            other => Error::internal(other),
        })
}
