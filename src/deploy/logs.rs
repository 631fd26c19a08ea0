//! CloudWatch Logs as `geno logs --env` reads them: which stream belongs to
//! which service and task (the awslogs driver names them
//! `PREFIX/CONTAINER/TASK-ID`; geno renders the service's name as both
//! unless stack.yaml names its own), the events of several services interleaved by time, and the
//! cursor that follows a log group without repeating or losing an event.
//! Pure.

use std::collections::BTreeSet;

/// One log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Milliseconds since the UNIX epoch.
    pub timestamp: i64,
    pub stream: String,
    pub message: String,
    pub id: String,
}

/// A stream name read back: `api/api/0123…` → service `api`, task `0123…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamName<'a> {
    pub prefix: &'a str,
    pub container: &'a str,
    pub task: &'a str,
}

pub fn parse_stream(stream: &str) -> Option<StreamName<'_>> {
    let mut parts = stream.splitn(3, '/');
    let (prefix, container, task) = (parts.next()?, parts.next()?, parts.next()?);
    if prefix.is_empty() || container.is_empty() || task.is_empty() {
        return None;
    }
    Some(StreamName {
        prefix,
        container,
        task,
    })
}

impl StreamName<'_> {
    /// `PREFIX/CONTAINER`: what the streams of one service's tasks share.
    pub fn key(&self) -> String {
        format!("{}/{}", self.prefix, self.container)
    }
}

/// The events of `services` (stream keys, `PREFIX/CONTAINER`), oldest
/// first; events of streams that belong to none of them are dropped (a log
/// group may hold other services' streams, and a stand-in may ignore the
/// prefix filter). Ties keep a stable order by stream, then ID.
pub fn select(mut events: Vec<LogEvent>, services: &[String], grep: Option<&str>) -> Vec<LogEvent> {
    events.retain(|e| {
        parse_stream(&e.stream).is_some_and(|s| services.contains(&s.key()))
            && grep.is_none_or(|g| e.message.contains(g))
    });
    events.sort_by(|a, b| (a.timestamp, &a.stream, &a.id).cmp(&(b.timestamp, &b.stream, &b.id)));
    events.dedup_by(|a, b| a.id == b.id && a.stream == b.stream);
    events
}

/// The last `n` events.
pub fn tail(mut events: Vec<LogEvent>, n: usize) -> Vec<LogEvent> {
    let cut = events.len().saturating_sub(n);
    events.drain(..cut);
    events
}

/// Where following a log group stands: each query looks back a window
/// from the newest timestamp seen (CloudWatch's `startTime` is inclusive,
/// and an event may be indexed late, with an older timestamp, in the
/// stream of a task that just started), and the IDs in that window are
/// remembered so nothing shows twice.
#[derive(Debug, Clone, Default)]
pub struct Cursor {
    /// The newest timestamp seen (or where following started), in ms.
    pub from: i64,
    /// Nothing older is shown: where the user asked to start, later the
    /// back edge of the window.
    floor: i64,
    seen: BTreeSet<(i64, String)>,
}

/// How far back each poll looks before the newest event seen.
pub const LATE_MS: i64 = 10_000;

impl Cursor {
    pub fn starting_at(from: i64) -> Cursor {
        Cursor {
            from,
            floor: from,
            seen: BTreeSet::new(),
        }
    }

    /// The next query's `startTime`.
    pub fn query_from(&self) -> i64 {
        self.floor.max(self.from.saturating_sub(LATE_MS))
    }

    /// The events of a poll not shown before, in order; the cursor moves on.
    pub fn fresh(&mut self, events: Vec<LogEvent>) -> Vec<LogEvent> {
        let edge = self.query_from();
        let mut out = Vec::new();
        for e in events {
            if e.timestamp < edge {
                continue;
            }
            if self
                .seen
                .insert((e.timestamp, format!("{}\n{}", e.stream, e.id)))
            {
                self.from = self.from.max(e.timestamp);
                out.push(e);
            }
        }
        self.floor = self.query_from();
        // Forget what no later query can return again.
        while self.seen.first().is_some_and(|(t, _)| *t < self.floor) {
            self.seen.pop_first();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: i64, stream: &str, id: &str) -> LogEvent {
        LogEvent {
            timestamp: t,
            stream: stream.into(),
            message: format!("m{id}"),
            id: id.into(),
        }
    }

    #[test]
    fn streams_name_service_container_and_task() {
        assert_eq!(
            parse_stream("api/api/0123abcd"),
            Some(StreamName {
                prefix: "api",
                container: "api",
                task: "0123abcd"
            })
        );
        assert_eq!(parse_stream("api/api"), None);
        assert_eq!(parse_stream("//x"), None);
    }

    #[test]
    fn selection_interleaves_by_time_and_drops_other_streams() {
        let events = vec![
            ev(3, "celery/celery/t2", "c"),
            ev(1, "api/api/t1", "a"),
            ev(2, "other/other/t3", "x"),
            ev(2, "api/api/t1", "b"),
            ev(2, "api/api/t1", "b"),
            // A shared prefix (`ecs`) is told apart by the container.
            ev(4, "ecs/worker/t4", "w"),
            ev(4, "ecs/api-server/t5", "s"),
        ];
        let keys = [
            "api/api".into(),
            "celery/celery".into(),
            "ecs/worker".into(),
        ];
        let picked = select(events, &keys, None);
        let ids: Vec<&str> = picked.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "w"]);
        let grepped = select(picked, &keys, Some("mc"));
        assert_eq!(grepped.len(), 1);
        assert_eq!(tail(vec![ev(1, "s", "1"), ev(2, "s", "2")], 1)[0].id, "2");
    }

    #[test]
    fn following_shows_each_event_once_even_late_ones() {
        let mut c = Cursor::starting_at(100);
        let first = c.fresh(vec![ev(100, "a/a/1", "1"), ev(105, "a/a/1", "2")]);
        assert_eq!(first.len(), 2);
        assert_eq!(c.from, 105);
        assert_eq!(c.query_from(), 100);
        // The next poll returns them again, plus one that arrived late with
        // an older timestamp in a new task's stream.
        let again = c.fresh(vec![
            ev(100, "a/a/1", "1"),
            ev(103, "a/a/2", "3"),
            ev(105, "a/a/1", "2"),
            ev(110, "a/a/2", "4"),
        ]);
        let ids: Vec<&str> = again.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["3", "4"]);
        assert!(c.fresh(vec![ev(110, "a/a/2", "4")]).is_empty());
        // Far later: the old IDs are forgotten, the window moves.
        let later = c.fresh(vec![ev(50_000, "a/a/2", "5")]);
        assert_eq!(later.len(), 1);
        assert_eq!(c.query_from(), 40_000);
    }
}
