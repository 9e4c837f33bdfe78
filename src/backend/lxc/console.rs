//! An LXC container's console log: the file `lxc.console.logfile` names
//! in its folder (set at create), which is its logs for `conteneur logs`.
//! It has no timestamps: `--since` cannot apply to it.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

/// The file's name in the container's folder.
pub const CONSOLE_LOG: &str = "console.log";

/// How often a followed log is read again.
pub const FOLLOW_POLL: Duration = Duration::from_millis(250);

/// The configuration line that keeps the console in `dir`'s log.
pub fn config_line(dir: &Path) -> String {
    format!(
        "lxc.console.logfile = {}\n",
        dir.join(CONSOLE_LOG).display()
    )
}

/// Where the last `n` lines of `text` start.
pub fn tail_start(text: &[u8], n: u64) -> usize {
    if n == 0 {
        return text.len();
    }
    // A last line without its newline counts as a line.
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    let mut seen = 0;
    for (i, b) in body.iter().enumerate().rev() {
        if *b == b'\n' {
            seen += 1;
            if seen == n {
                return i + 1;
            }
        }
    }
    0
}

/// Sends the log (its last `tail` lines) to `sink`; returns how far it
/// read, for [`follow_from`].
pub fn read_all(
    path: &Path,
    tail: Option<u64>,
    sink: super::super::LogSink<'_>,
) -> std::io::Result<u64> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let start = tail.map(|n| tail_start(&text, n)).unwrap_or(0);
    if start < text.len() {
        sink(false, &text[start..]);
    }
    Ok(text.len() as u64)
}

/// Sends what was added to the log since `offset`; returns the new offset
/// (back to 0 when the file was cut, as by a rotation).
pub fn read_new(path: &Path, offset: u64, sink: super::super::LogSink<'_>) -> std::io::Result<u64> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(offset),
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    let from = if len < offset { 0 } else { offset };
    f.seek(SeekFrom::Start(from))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    if !buf.is_empty() {
        sink(false, &buf);
    }
    Ok(from + buf.len() as u64)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn tail_counts_lines_from_the_end() {
        let t = b"a\nb\nc\n";
        assert_eq!(&t[tail_start(t, 1)..], b"c\n");
        assert_eq!(&t[tail_start(t, 2)..], b"b\nc\n");
        assert_eq!(&t[tail_start(t, 9)..], b"a\nb\nc\n");
        assert_eq!(&t[tail_start(t, 0)..], b"");
        let u = b"a\nb";
        assert_eq!(&u[tail_start(u, 1)..], b"b");
    }

    #[test]
    fn read_all_then_new_lines_and_a_cut_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONSOLE_LOG);
        let got = Mutex::new(Vec::<u8>::new());
        let sink = |_err: bool, b: &[u8]| got.lock().unwrap().extend_from_slice(b);
        assert_eq!(read_all(&path, None, &sink).unwrap(), 0);
        std::fs::write(&path, "one\ntwo\nthree\n").unwrap();
        let off = read_all(&path, Some(2), &sink).unwrap();
        assert_eq!(got.lock().unwrap().as_slice(), b"two\nthree\n");
        got.lock().unwrap().clear();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut f, b"four\n").unwrap();
        let off = read_new(&path, off, &sink).unwrap();
        assert_eq!(got.lock().unwrap().as_slice(), b"four\n");
        got.lock().unwrap().clear();
        std::fs::write(&path, "new\n").unwrap();
        read_new(&path, off, &sink).unwrap();
        assert_eq!(got.lock().unwrap().as_slice(), b"new\n");
    }
}
