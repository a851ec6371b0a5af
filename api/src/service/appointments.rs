//! Window appointments for the conversation and the API: free slots of a service (the halls'
//! windows from `halls.toml`, the working days from the calendar, the places left from the
//! database), booking, moving and cancelling, and the checklist of what to bring, shortened
//! by the citizen's e-licences.

use chrono::{NaiveDate, NaiveTime, Timelike};

use super::Result;
use crate::auth::User;
use crate::state::AppState;
use crate::wire::AppointmentBody;
use bot::appointments::OfferedSlot;
use bot::when::{Day, PartOfDay, show_day};

/// Most slots listed at once (each is also a quick reply).
const MAX_OFFERED: usize = 6;

/// What a turn shows: its text, quick replies, and the slots it offered (remembered for the
/// choice) or the appointment it made or changed.
pub struct Shown {
    pub text: String,
    pub quick_replies: Vec<String>,
    pub offered: Vec<OfferedSlot>,
    pub appointment: Option<AppointmentBody>,
}

impl Shown {
    fn text(text: impl Into<String>, quick_replies: Vec<String>) -> Shown {
        Shown {
            text: text.into(),
            quick_replies,
            offered: Vec::new(),
            appointment: None,
        }
    }
}

pub fn body(engine: &bot::Engine, appointment: &backend::Appointment) -> AppointmentBody {
    let hall = engine.corpus.halls.iter().find(|h| h.id == appointment.hall);
    AppointmentBody {
        number: appointment.number.clone(),
        service_id: appointment.service_id.clone(),
        title: engine
            .corpus
            .guide(&appointment.service_id)
            .map_or_else(|| appointment.service_id.clone(), |g| g.title.clone()),
        hall: hall.map_or_else(|| appointment.hall.clone(), |h| h.name.clone()),
        address: hall.map(|h| h.address.clone()),
        window: hall
            .and_then(|h| h.windows.iter().find(|w| w.id == appointment.window_id))
            .map_or_else(|| appointment.window_id.clone(), |w| w.name.clone()),
        start: format!("{} {}", appointment.day, appointment.start_time),
        end: format!("{} {}", appointment.day, appointment.end_time),
        state: appointment.state.clone(),
    }
}

fn title(engine: &bot::Engine, service_id: &str) -> String {
    engine
        .corpus
        .guide(service_id)
        .map_or_else(|| service_id.to_string(), |g| g.title.clone())
}

/// Free slots of a service, from `now` on: on `day` if given, else the first days with room.
pub async fn offer(
    state: &AppState,
    engine: &bot::Engine,
    service_id: &str,
    day: Option<Day>,
    part: Option<PartOfDay>,
    moving: bool,
    now: i64,
) -> Result<Shown> {
    let title = title(engine, service_id);
    let halls: Vec<&knowledge::services::Hall> = engine
        .corpus
        .halls
        .iter()
        .filter(|h| h.windows.iter().any(|w| w.serves(service_id)))
        .collect();
    if halls.is_empty() {
        return Ok(Shown::text(
            format!("《{title}》暂不提供窗口预约，可以直接在线办理，或拨打 12345 咨询。"),
            vec!["在线办理".into()],
        ));
    }
    let calendar = &engine.corpus.calendar;
    let local = knowledge::time::local(now);
    let today = local.date();
    let wanted = day.and_then(|d| d.resolve(today));
    // Each hall's bookable days, read once.
    let open_days: Vec<Vec<NaiveDate>> = halls.iter().map(|h| h.bookable_days(calendar, today)).collect();
    let bookable: Vec<NaiveDate> = {
        let mut days: Vec<NaiveDate> = open_days.iter().flatten().copied().collect();
        days.sort();
        days.dedup();
        days
    };
    if let Some(wanted) = wanted
        && !bookable.contains(&wanted)
    {
        let why = if wanted < today {
            "这一天已经过去了".to_string()
        } else if !calendar.is_working_day(wanted) {
            format!("{} 是休息日，大厅不办公", show_day(wanted))
        } else {
            format!("{} 还不能预约（可预约今天起的几个工作日）", show_day(wanted))
        };
        let mut shown = Box::pin(offer(state, engine, service_id, None, part, moving, now)).await?;
        shown.text = format!("{why}。{}", shown.text);
        return Ok(shown);
    }
    let days: Vec<NaiveDate> = match wanted {
        Some(day) => vec![day],
        None => bookable,
    };
    let mut offered: Vec<OfferedSlot> = Vec::new();
    'days: for day in &days {
        let mut free: Vec<(NaiveTime, &knowledge::services::Hall, knowledge::services::Slot)> = Vec::new();
        for (hall, open) in halls.iter().copied().zip(&open_days) {
            if !open.contains(day) {
                continue;
            }
            let day_text = day.format("%Y-%m-%d").to_string();
            let taken = state.store.booked_places(&hall.id, &day_text).await?;
            for slot in hall.slots(calendar, service_id, *day) {
                // Today's slots that have begun are gone.
                if *day == today && slot.start <= local.time() {
                    continue;
                }
                if part.is_some_and(|p| !p.holds(slot.start.hour())) {
                    continue;
                }
                let used = taken
                    .get(&(slot.window.clone(), slot.start.format("%H:%M").to_string()))
                    .copied()
                    .unwrap_or(0);
                if used < i64::from(slot.capacity) {
                    free.push((slot.start, hall, slot));
                }
            }
        }
        free.sort_by_key(|(start, _, _)| *start);
        for (_, hall, slot) in free {
            // One line a start time and hall (the first window with room).
            let start = slot.start.format("%H:%M").to_string();
            if offered
                .iter()
                .any(|o| o.hall == hall.id && o.day == day.to_string() && o.start == start)
            {
                continue;
            }
            let part_name = if slot.start.hour() < 12 { "上午" } else { "下午" };
            offered.push(OfferedSlot {
                service_id: service_id.to_string(),
                hall: hall.id.clone(),
                window: slot.window.clone(),
                day: day.to_string(),
                start: start.clone(),
                end: slot.end.format("%H:%M").to_string(),
                label: format!(
                    "{}{part_name} {start}-{} {}",
                    show_day(*day),
                    slot.end.format("%H:%M"),
                    hall.name
                ),
            });
            if offered.len() >= MAX_OFFERED {
                break 'days;
            }
        }
        // Without a day asked, the first day with room is enough.
        if wanted.is_none() && !offered.is_empty() {
            break;
        }
    }
    if offered.is_empty() {
        let when = match (wanted, part) {
            (Some(d), Some(PartOfDay::Morning)) => format!("{}上午", show_day(d)),
            (Some(d), Some(PartOfDay::Afternoon)) => format!("{}下午", show_day(d)),
            (Some(d), None) => show_day(d),
            (None, _) => "近几个工作日".into(),
        };
        return Ok(Shown::text(
            format!("《{title}》{when}的预约号已经约满了。可以换一天，例如说“后天上午”；也可以在线办理。"),
            vec!["换一天".into(), "在线办理".into()],
        ));
    }
    let verb = if moving { "改约到" } else { "预约" };
    let mut lines = vec![format!("《{title}》可以{verb}以下时段：")];
    for (i, slot) in offered.iter().enumerate() {
        lines.push(format!("{}. {}", i + 1, slot.label));
    }
    lines.push("请回复序号或点选一个时段；想要别的日子，直接说“后天上午”。".into());
    Ok(Shown {
        text: lines.join("\n"),
        quick_replies: offered.iter().map(|s| s.label.clone()).collect(),
        offered,
        appointment: None,
    })
}

/// What to bring for a service: each material, and which the citizen's e-licences make 免于提交.
pub fn checklist(engine: &bot::Engine, service_id: &str, who: Option<&bot::UserContext>) -> Vec<String> {
    let Some(guide) = engine.corpus.guide(service_id) else {
        return Vec::new();
    };
    let context = bot::Context::of(who);
    bot::forms::materials(&engine.corpus, guide, &context, &Default::default())
        .into_iter()
        .map(|m| match m.source.as_str() {
            "e_license" => format!("· {}：已关联您的电子证照，免于提交", m.name),
            _ => format!("· {}", m.name),
        })
        .collect()
}

/// Books an offered slot (moving the citizen's booking of the service when `moving`).
pub async fn book(
    state: &AppState,
    engine: &bot::Engine,
    user: &User,
    who: Option<&bot::UserContext>,
    slot: &OfferedSlot,
    moving: bool,
    session_id: &str,
    now: i64,
) -> Result<Shown> {
    let title = title(engine, &slot.service_id);
    let Some(window) = engine
        .corpus
        .halls
        .iter()
        .find(|h| h.id == slot.hall)
        .and_then(|h| h.windows.iter().find(|w| w.id == slot.window))
    else {
        return Ok(Shown::text(
            "这个时段已不再开放预约，请重新选择。",
            vec!["重新预约".into()],
        ));
    };
    let replacing = if moving {
        state
            .store
            .live_appointment(&user.id, &slot.service_id)
            .await?
            .map(|a| a.number)
    } else {
        None
    };
    let booking = backend::Booking {
        holder_id: user.id.clone(),
        service_id: slot.service_id.clone(),
        hall: slot.hall.clone(),
        window_id: slot.window.clone(),
        day: slot.day.clone(),
        start_time: slot.start.clone(),
        end_time: slot.end.clone(),
        capacity: i64::from(window.capacity),
        session_id: Some(session_id.to_string()),
    };
    let booked = match state.store.book(&booking, replacing.as_deref(), now).await {
        Ok(booked) => booked,
        Err(backend::BookError::Full) => {
            return Ok(Shown::text(
                format!("抱歉，{} 刚刚被约满了。请说“预约”重新选一个时段。", slot.label),
                vec!["重新预约".into()],
            ));
        }
        // The same slot already held (a retried turn): the booking stands.
        Err(backend::BookError::AlreadyBooked(held))
            if held.hall == slot.hall && held.day == slot.day && held.start_time == slot.start =>
        {
            *held
        }
        Err(backend::BookError::AlreadyBooked(held)) => {
            let body = body(engine, &held);
            return Ok(Shown {
                text: format!(
                    "您已预约了《{title}》：{} {}，预约号 {}。要换时间请说“改约”，不去了请说“取消预约”。",
                    body.start, body.hall, held.number
                ),
                quick_replies: vec!["改约".into(), "取消预约".into()],
                offered: Vec::new(),
                appointment: Some(body),
            });
        }
        Err(backend::BookError::NotFound(_)) => {
            return Ok(Shown::text(
                "没有找到您要改约的预约，请说“预约”重新选择时段。",
                vec!["预约".into()],
            ));
        }
        Err(backend::BookError::Store(err)) => return Err(err.into()),
    };
    let body = body(engine, &booked);
    let mut lines = vec![format!(
        "{}《{title}》：{}（{}），{}，{}。预约号 {}。",
        if moving { "已改约" } else { "预约成功" },
        slot.label,
        body.window,
        body.hall,
        body.address.clone().unwrap_or_default(),
        booked.number
    )];
    let items = checklist(engine, &slot.service_id, who);
    if !items.is_empty() {
        lines.push("请带齐以下材料：".into());
        lines.extend(items);
    }
    lines.push("请提前 10 分钟到达，凭身份证或预约号取号。不能去了请说“取消预约”，把号让给别人。".into());
    Ok(Shown {
        text: lines.join("\n"),
        quick_replies: vec!["我的预约".into(), "取消预约".into()],
        offered: Vec::new(),
        appointment: Some(body),
    })
}

/// The citizen's bookings that are not cancelled.
async fn live_of(state: &AppState, user: &User) -> Result<Vec<backend::Appointment>> {
    Ok(state
        .store
        .appointments_of(&user.id)
        .await?
        .into_iter()
        .filter(|a| a.state == "booked")
        .collect())
}

/// Cancels the citizen's booking of `service_id` (or their next one).
pub async fn cancel(
    state: &AppState,
    engine: &bot::Engine,
    user: &User,
    service_id: Option<&str>,
    now: i64,
) -> Result<Shown> {
    let live = live_of(state, user).await?;
    let target = service_id
        .and_then(|s| live.iter().find(|a| a.service_id == s))
        .or_else(|| {
            live.iter()
                .min_by(|a, b| (&a.day, &a.start_time).cmp(&(&b.day, &b.start_time)))
        });
    let Some(target) = target else {
        return Ok(Shown::text("您目前没有待办的预约。", vec!["预约".into()]));
    };
    match state.store.cancel_appointment(&target.number, &user.id, now).await? {
        Some(cancelled) => {
            let body = body(engine, &cancelled);
            Ok(Shown {
                text: format!(
                    "已取消《{}》{} 在{}的预约（预约号 {}），这个号已让给其他人。",
                    body.title, body.start, body.hall, cancelled.number
                ),
                quick_replies: vec!["重新预约".into()],
                offered: Vec::new(),
                appointment: Some(body),
            })
        }
        None => Ok(Shown::text("这个预约已经取消了。", vec![])),
    }
}

/// The citizen's live bookings.
pub async fn list(state: &AppState, engine: &bot::Engine, user: &User) -> Result<Shown> {
    let live = live_of(state, user).await?;
    if live.is_empty() {
        return Ok(Shown::text(
            "您目前没有待办的预约。需要的话可以说“预约”和要办的事。",
            vec![],
        ));
    }
    let mut lines = vec![format!("您有 {} 个预约：", live.len())];
    for a in &live {
        let b = body(engine, a);
        lines.push(format!(
            "· {}：{} {}（{}），预约号 {}",
            b.title, b.start, b.hall, b.window, a.number
        ));
    }
    Ok(Shown::text(lines.join("\n"), vec!["改约".into(), "取消预约".into()]))
}
