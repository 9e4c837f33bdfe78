//! A snap's logs: snapd's `GET /v2/logs?names=SNAP` (its services'
//! journal), the API `snap logs` itself calls. The answer is an
//! `application/json-seq` stream (RFC 7464): each record is an RS byte
//! (0x1E), a JSON object (`timestamp`, `message`, `sid`, `pid`) and a line
//! feed; with `follow=true` it goes on until the request is dropped.

use crate::backend::LogRequest;

/// What a snap's name may hold as it is; anything else is escaped.
const NAME: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.');

/// The record separator of a JSON text sequence.
const RS: u8 = 0x1e;

/// The request's path and query for snap `snap`. snapd's `n` is the number
/// of last lines, -1 for all of them; it has no `since` (applied here, see
/// [`keep`]).
pub fn path(snap: &str, request: &LogRequest) -> String {
    let n = request
        .tail
        .map(|n| n.min(i64::MAX as u64).to_string())
        .unwrap_or_else(|| "-1".into());
    let names: String = percent_encoding::utf8_percent_encode(snap, NAME).to_string();
    let mut p = format!("/v2/logs?names={names}&n={n}");
    if request.follow {
        p.push_str("&follow=true");
    }
    p
}

/// One journal line: when (RFC 3339, as snapd writes it) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub timestamp: String,
    pub message: String,
}

/// Takes the complete records off the front of `buf` (a record is complete
/// when the next one starts, or at `end`). A record that is not a JSON
/// object with a message is skipped.
pub fn take(buf: &mut Vec<u8>, end: bool) -> Vec<Line> {
    let mut out = Vec::new();
    let mut from = 0;
    loop {
        // The record starts after an RS; it ends at the next RS.
        let Some(start) = buf[from..]
            .iter()
            .position(|b| *b == RS)
            .map(|i| from + i + 1)
        else {
            from = buf.len();
            break;
        };
        let stop = match buf[start..].iter().position(|b| *b == RS) {
            Some(i) => start + i,
            None if end => buf.len(),
            None => {
                from = start - 1;
                break;
            }
        };
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&buf[start..stop])
            && let Some(message) = v.get("message").and_then(|m| m.as_str())
        {
            out.push(Line {
                timestamp: v
                    .get("timestamp")
                    .and_then(|t| t.as_str())
                    .unwrap_or_default()
                    .to_string(),
                message: message.to_string(),
            });
        }
        from = stop;
        if stop == buf.len() {
            break;
        }
    }
    buf.drain(..from);
    out
}

/// Whether `line` is kept for `--since` (seconds since the epoch): a line
/// whose time cannot be read is kept.
pub fn keep(line: &Line, since: Option<i64>) -> bool {
    let Some(since) = since else {
        return true;
    };
    match humantime::parse_rfc3339_weak(line.timestamp.trim_end_matches('Z')) {
        Ok(t) => t
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX) >= since)
            .unwrap_or(false),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ts: &str, msg: &str) -> Vec<u8> {
        let mut v = vec![RS];
        v.extend_from_slice(
            serde_json::json!({"timestamp": ts, "message": msg, "sid": "x.daemon", "pid": "1"})
                .to_string()
                .as_bytes(),
        );
        v.push(b'\n');
        v
    }

    #[test]
    fn records_are_taken_whole_whatever_the_chunks() {
        let mut all = rec("2026-12-07T10:00:00.5Z", "one");
        all.extend(rec("2026-12-07T10:00:01Z", "two"));
        all.extend(b"\x1enot json\n");
        all.extend(rec("2026-12-07T10:00:02Z", "three"));
        for cut in 0..all.len() {
            let mut buf = all[..cut].to_vec();
            let mut got = take(&mut buf, false);
            buf.extend_from_slice(&all[cut..]);
            got.extend(take(&mut buf, false));
            got.extend(take(&mut buf, true));
            let msgs: Vec<&str> = got.iter().map(|l| l.message.as_str()).collect();
            assert_eq!(msgs, ["one", "two", "three"], "cut at {cut}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn the_query_and_since() {
        let r = LogRequest {
            follow: true,
            since: None,
            tail: Some(5),
        };
        assert_eq!(
            path("hello-web", &r),
            "/v2/logs?names=hello-web&n=5&follow=true"
        );
        assert_eq!(path("x", &LogRequest::default()), "/v2/logs?names=x&n=-1");
        let l = |ts: &str| Line {
            timestamp: ts.into(),
            message: String::new(),
        };
        // 2026-12-07T10:00:00Z
        let t = 1_796_637_600;
        assert!(keep(&l("2026-12-07T10:00:00.25Z"), Some(t)));
        assert!(!keep(&l("2026-12-07T09:59:59Z"), Some(t)));
        assert!(keep(&l("garbage"), Some(t)));
        assert!(keep(&l("2020-01-01T00:00:00Z"), None));
    }
}
