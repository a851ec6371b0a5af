//! Window appointments in the conversation: “明天下午有号吗” lists free slots of the service
//! under discussion (the caller reads the places left from the database), a choice books one,
//! “改约” offers slots that replace the booking, “取消预约” cancels it, “我的预约” lists them.
//! The bot only reads the request; booking is an [`Effect`] the caller carries out.

use knowledge::phrases::lists;
use serde::{Deserialize, Serialize};

use crate::dialogue::DialogueState;
use crate::forms::{Effect, mentions_any};
use crate::when::{Day, PartOfDay};
use crate::{Engine, Intent};

/// A slot offered in the conversation, remembered until the citizen picks one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferedSlot {
    pub service_id: String,
    pub hall: String,
    pub window: String,
    /// `YYYY-MM-DD`
    pub day: String,
    /// `HH:MM`
    pub start: String,
    pub end: String,
    /// As shown (and as its quick reply).
    pub label: String,
}

/// What the citizen asked about appointments.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Free slots of a service, on a day and part of the day if said; `moving`: to replace
    /// the citizen's booking of that service.
    Offer {
        service_id: String,
        day: Option<Day>,
        part: Option<PartOfDay>,
        moving: bool,
    },
    /// Book an offered slot.
    Book {
        slot: OfferedSlot,
        moving: bool,
    },
    Cancel {
        service_id: Option<String>,
    },
    List,
}

/// Whether a word of the list is in the message: one that names the appointment itself
/// (改约, 取消预约) anywhere, a general one (不去了, 改到) only while one is being arranged.
fn mentions_in(text: &str, words: &[String], arranging: bool) -> bool {
    words
        .iter()
        .any(|w| text.contains(w.as_str()) && (arranging || w.contains('约') || w.contains("appointment")))
}

/// The slot the message picks among those offered: its number (“2”, “第二个”), its start
/// time (“14:00”) or its label (a tapped quick reply).
fn pick(engine: &Engine, offered: &[OfferedSlot], text: &str) -> Option<OfferedSlot> {
    let trimmed = text.trim().trim_end_matches(['。', '.', '！', '!']);
    if let Some(slot) = offered
        .iter()
        .find(|s| trimmed == s.label || trimmed.contains(&s.label))
    {
        return Some(slot.clone());
    }
    let digits: String = trimmed
        .trim_start_matches('第')
        .trim_end_matches(['个', '号'])
        .trim()
        .to_string();
    if let Ok(n) = digits.parse::<usize>()
        && (1..=offered.len()).contains(&n)
    {
        return Some(offered[n - 1].clone());
    }
    if let Some(slot) = offered.iter().find(|s| trimmed.contains(&s.start)) {
        return Some(slot.clone());
    }
    engine.corpus.phrases.ordinals().iter().find_map(|ordinal| {
        ordinal.words.iter().any(|w| trimmed.contains(w.as_str())).then(|| {
            let i = match ordinal.place {
                0 => offered.len().saturating_sub(1),
                place => place - 1,
            };
            offered.get(i).cloned()
        })?
    })
}

/// Reads an appointment request; `None` when the message is about something else. `named`:
/// the services the message names by title or alias.
pub fn read(engine: &Engine, state: &DialogueState, message: &str, named: &[String]) -> Option<Request> {
    let phrases = &engine.corpus.phrases;
    let text = index::normalize(message.trim());
    let arranging = state.appointment_service.is_some() || !state.slots.is_empty();
    if mentions_in(&text, phrases.words(lists::APPOINTMENT_CANCEL), arranging) {
        return Some(Request::Cancel {
            service_id: named.first().cloned(),
        });
    }
    if mentions_any(&text, phrases.words(lists::APPOINTMENT_MINE)) {
        return Some(Request::List);
    }
    let moving = mentions_in(&text, phrases.words(lists::APPOINTMENT_MOVE), arranging);
    if !state.slots.is_empty()
        && !moving
        && let Some(slot) = pick(engine, &state.slots, &text)
    {
        return Some(Request::Book {
            slot,
            moving: state.moving,
        });
    }
    let (day, part) = crate::when::parse(&text);
    // “办护照要预约吗” asks about the guide, not for a slot: answered from the guide (which
    // says whether and how), unless it names a day.
    let question = ["吗", "?", "？", "么"].iter().any(|q| text.trim_end().ends_with(q));
    let asking = mentions_any(&text, phrases.words(lists::APPOINTMENT))
        && !(question && day.is_none() && part.is_none() && !mentions_any(&text, &["有号", "还有"]));
    // “那后天呢”: another day for the slots just offered.
    let another_day = !state.slots.is_empty() && (day.is_some() || part.is_some()) && named.is_empty();
    if !(asking || moving || another_day) {
        return None;
    }
    let service_id = named
        .first()
        .cloned()
        .or_else(|| state.slots.first().map(|s| s.service_id.clone()))
        .or_else(|| state.appointment_service.clone())
        .or_else(|| state.last_guide.clone())
        // “明天上午能预约办身份证吗”: the service the search is sure of.
        .or_else(|| {
            let hit = engine.index.rank(&text, 1).ok()?.into_iter().next()?;
            (crate::confidence(&hit) >= engine.thresholds.answer).then_some(hit.id)
        })?;
    Some(Request::Offer {
        service_id,
        day,
        part,
        moving: moving || (another_day && state.moving),
    })
}

/// The reply to an appointment request: the effect, and the state it leaves (the offered
/// slots are replaced by the caller's list).
pub fn turn(engine: &Engine, mut next: DialogueState, request: Request) -> (DialogueState, crate::dialogue::Reply) {
    let about = match &request {
        Request::Offer { service_id, .. } => Some(service_id.clone()),
        Request::Book { slot, .. } => Some(slot.service_id.clone()),
        _ => None,
    };
    let effect = match request {
        Request::Offer {
            service_id,
            day,
            part,
            moving,
        } => {
            next.appointment_service = Some(service_id.clone());
            next.last_guide = Some(service_id.clone());
            next.moving = moving;
            Effect::OfferSlots {
                service_id,
                day,
                part,
                moving,
            }
        }
        Request::Book { slot, moving } => {
            next.slots.clear();
            next.moving = false;
            Effect::Book { slot, moving }
        }
        Request::Cancel { service_id } => {
            next.slots.clear();
            Effect::CancelAppointment {
                service_id: service_id.or_else(|| next.appointment_service.clone()),
            }
        }
        Request::List => Effect::ListAppointments,
    };
    let mut reply = crate::dialogue::Reply::empty(Intent::Service);
    reply.effect = Some(effect);
    if let Some(guide) = about.and_then(|id| engine.corpus.guide(&id)) {
        reply.guides = vec![crate::GuideHit {
            id: guide.id.clone(),
            title: guide.title.clone(),
            score: 1.0,
        }];
    }
    (next, reply)
}
