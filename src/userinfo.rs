//! The credentials a URL may carry (`http://user:TOKEN@host/repo.git`),
//! treated as a secret (docs/security.md, "Credentials in URLs").
//!
//! [`split`] takes the userinfo out of a URL: what is shown, labelled,
//! rendered or given to a program's argv is the URL without it
//! ([`public`]); the credentials themselves reach git only through its
//! environment ([`Credentials`]). An ssh address keeps its user, a login
//! name ssh needs (`ssh://git@host/r`, `git@host:path`), not a secret.

use std::fmt;

use percent_encoding::percent_decode_str;

/// A user name and password taken out of a URL (percent-decoded, as git
/// decodes them). Its `Debug` shows neither.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(..)")
    }
}

/// `url` without its userinfo, and the credentials it held.
pub fn split(url: &str) -> (String, Option<Credentials>) {
    let Some(after) = url.find("://").map(|i| i + 3) else {
        return (url.to_string(), None);
    };
    let rest = &url[after..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return (url.to_string(), None);
    };
    let userinfo = &rest[..at];
    let scheme = url[..after - 3].to_ascii_lowercase();
    if scheme.contains("ssh") {
        // ssh's user is a login name, which it needs; a password there is
        // never used by ssh, and not shown.
        let user = userinfo.split(':').next().unwrap_or_default();
        return (format!("{}{user}@{}", &url[..after], &rest[at + 1..]), None);
    }
    let public = format!("{}{}", &url[..after], &rest[at + 1..]);
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let (username, password) = match userinfo.split_once(':') {
        Some((u, p)) => (decode(u), Some(decode(p))),
        None => (decode(userinfo), None),
    };
    (public, Some(Credentials { username, password }))
}

/// `url` without its userinfo: what may be shown.
pub fn public(url: &str) -> String {
    split(url).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_userinfo_is_taken_out_of_the_authority_only() {
        let (p, c) = split("http://user:TOK%40EN@git.example:8080/a/b.git");
        assert_eq!(p, "http://git.example:8080/a/b.git");
        let c = c.unwrap();
        assert_eq!(c.username, "user");
        assert_eq!(c.password.as_deref(), Some("TOK@EN"));
        assert_eq!(format!("{c:?}"), "Credentials(..)");
        let (p, c) = split("https://TOKEN@github.example/x");
        assert_eq!(p, "https://github.example/x");
        assert_eq!(c.unwrap().username, "TOKEN");
        // An '@' after the authority is no userinfo.
        for url in [
            "https://host/a@b",
            "https://host?x=a@b",
            "git@host:path.git",
            "file:///srv/repo",
            "",
        ] {
            assert_eq!(split(url), (url.to_string(), None), "{url}");
        }
        assert_eq!(public("ssh://git:pw@host/r"), "ssh://git@host/r");
        assert_eq!(
            split("git+ssh://git@host/r"),
            ("git+ssh://git@host/r".into(), None)
        );
    }
}
