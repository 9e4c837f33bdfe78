//! Which containers the engine changed between two moments, from its event
//! log: one bounded `GET /events?since=…&until=…` (both in the past, so the
//! engine answers from its log and closes at once) instead of one
//! `inspect` per container.
//!
//! The engine keeps only its last 256 events of every kind (moby's
//! `daemon/events` `eventsLimit`) for such a question, and says nothing
//! when older ones of the window were dropped. The question is therefore
//! asked unfiltered and its events counted: a window that comes back
//! nearly full may have lost some, and is an error (the caller then asks
//! every record again).

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::Docker;
use bollard::models::{EventMessage, EventMessageTypeEnum};
use bollard::query_parameters::EventsOptions;
use futures_util::StreamExt;

/// How many events the engine keeps for a `since` question.
const ENGINE_LOG: usize = 256;
/// A window with this many events may have lost its oldest.
const MAYBE_TRUNCATED: usize = ENGINE_LOG - 16;
/// The bound on the whole question.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A container's actions after which its record (liveness, restart
/// count, main process, addresses) may differ. An action may carry
/// details after a colon (`exec_start: sh -c …`, `health_status: …`).
const CONTAINER_ACTIONS: &[&str] = &[
    "create", "start", "restart", "die", "kill", "oom", "stop", "pause", "unpause", "rename",
    "destroy", "update",
];
/// A network's actions that change a container's addresses; the container
/// is in the `container` attribute.
const NETWORK_ACTIONS: &[&str] = &["connect", "disconnect"];

/// Docker's timestamp form: seconds and nanoseconds since the epoch.
fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// The full ids of the containers that changed between `since` and
/// `until`, or why the engine cannot say them all.
pub(super) async fn changed(
    docker: &Docker,
    since: SystemTime,
    until: SystemTime,
) -> Result<BTreeSet<String>, String> {
    if until < since {
        return Err("the clock went back".into());
    }
    let opts = EventsOptions {
        since: Some(timestamp(since)),
        until: Some(timestamp(until)),
        filters: None,
    };
    let ask = async {
        let mut stream = docker.events(Some(opts));
        let mut events = Vec::new();
        while let Some(e) = stream.next().await {
            events.push(e.map_err(|e| super::engine_message(&e))?);
            if events.len() >= MAYBE_TRUNCATED {
                break;
            }
        }
        Ok::<_, String>(events)
    };
    let events = tokio::time::timeout(TIMEOUT, ask)
        .await
        .map_err(|_| format!("no end to its events within {} s", TIMEOUT.as_secs()))??;
    containers_changed(&events)
}

/// The containers `events` name as changed; an error when the engine's log
/// may have dropped some of the window.
fn containers_changed(events: &[EventMessage]) -> Result<BTreeSet<String>, String> {
    if events.len() >= MAYBE_TRUNCATED {
        return Err(format!(
            "{} events or more since the last round: the engine keeps only its last {ENGINE_LOG}",
            events.len()
        ));
    }
    let mut out = BTreeSet::new();
    for e in events {
        let action = e.action.as_deref().unwrap_or_default();
        let action = action.split(':').next().unwrap_or_default().trim();
        let actor = e.actor.as_ref();
        let id = match e.typ {
            Some(EventMessageTypeEnum::CONTAINER) if CONTAINER_ACTIONS.contains(&action) => {
                actor.and_then(|a| a.id.clone())
            }
            Some(EventMessageTypeEnum::NETWORK) if NETWORK_ACTIONS.contains(&action) => actor
                .and_then(|a| a.attributes.as_ref())
                .and_then(|a| a.get("container").cloned()),
            _ => None,
        };
        out.extend(id.filter(|i| !i.is_empty()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bollard::models::EventActor;

    use super::*;

    fn event(typ: EventMessageTypeEnum, action: &str, id: &str, container: &str) -> EventMessage {
        let mut attributes = HashMap::new();
        if !container.is_empty() {
            attributes.insert("container".to_string(), container.to_string());
        }
        EventMessage {
            typ: Some(typ),
            action: Some(action.into()),
            actor: Some(EventActor {
                id: Some(id.into()),
                attributes: Some(attributes),
            }),
            ..EventMessage::default()
        }
    }

    #[test]
    fn lifecycle_and_network_events_name_their_container() {
        use EventMessageTypeEnum::*;
        let events = vec![
            event(CONTAINER, "die", "aaa", ""),
            event(CONTAINER, "start", "aaa", ""),
            event(CONTAINER, "restart", "bbb", ""),
            event(CONTAINER, "rename", "ccc", ""),
            event(NETWORK, "connect", "net1", "ddd"),
            event(NETWORK, "disconnect", "net1", "eee"),
            // Neither changes a record.
            event(CONTAINER, "exec_start: sh -c true", "fff", ""),
            event(CONTAINER, "health_status: healthy", "ggg", ""),
            event(IMAGE, "pull", "hhh", ""),
            event(NETWORK, "create", "net2", ""),
        ];
        let got: Vec<String> = containers_changed(&events).unwrap().into_iter().collect();
        assert_eq!(got, ["aaa", "bbb", "ccc", "ddd", "eee"]);
        assert!(containers_changed(&[]).unwrap().is_empty());
    }

    #[test]
    fn a_nearly_full_log_cannot_say_every_change() {
        let events: Vec<EventMessage> = (0..MAYBE_TRUNCATED)
            .map(|i| {
                event(
                    EventMessageTypeEnum::CONTAINER,
                    "exec_die",
                    &i.to_string(),
                    "",
                )
            })
            .collect();
        let e = containers_changed(&events).unwrap_err();
        assert!(e.contains("256"), "{e}");
        assert!(containers_changed(&events[1..]).is_ok());
    }

    #[test]
    fn timestamps_are_seconds_and_nanoseconds() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 5);
        assert_eq!(timestamp(t), "1700000000.000000005");
    }
}
