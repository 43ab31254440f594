//! `-L/--location`: following a redirect as curl does, on the same socket. The Location is
//! resolved against the URL asked for (RFC 3986, by the `url` crate); an absolute one's
//! host becomes the Host header, while the connection still goes to the socket. 301 and
//! 302 turn a POST into a GET without its body, 303 turns anything but HEAD into one,
//! 307 and 308 keep the method and the body.

use hyper::{Method, StatusCode};

use super::request::{self, Target};
use crate::error::FAILURE;
use crate::error::Fail;
use crate::term::escape;

/// curl's exit code for more redirects than --max-redirs allows.
pub const TOO_MANY: i32 = 47;
/// curl's exit code when a body that cannot be read again would have to be sent again.
pub const NO_REWIND: i32 = 65;

pub fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// The method of the next request, and whether it carries the body again.
pub fn next_method(status: StatusCode, method: &Method) -> (Method, bool) {
    match status.as_u16() {
        301 | 302 if method == Method::POST => (Method::GET, false),
        303 if method != Method::HEAD => (Method::GET, false),
        _ => (method.clone(), true),
    }
}

/// Where a Location leads from `from`: relative or absolute, but plain http only.
pub fn follow(from: &Target, location: &str) -> Result<Target, Fail> {
    let base = format!("http://{}{}", from.authority, from.path);
    let base = url::Url::parse(&base).map_err(|e| {
        Fail::new(
            FAILURE,
            format!("following a redirect from {}: {e}", escape(&base)),
        )
    })?;
    let to = base.join(location).map_err(|e| {
        Fail::new(
            FAILURE,
            format!(
                "the server redirected to '{}', which is not a URL: {e}",
                escape(location)
            ),
        )
    })?;
    if to.scheme() != "http" {
        return Err(Fail::new(
            FAILURE,
            format!(
                "the server redirected to {}: udskit http follows plain http:// on the socket only",
                escape(to.as_str())
            ),
        ));
    }
    let host = to.host_str().unwrap_or(request::DEFAULT_HOST);
    let authority = match to.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let mut path = to.path().to_string();
    if let Some(q) = to.query() {
        path.push('?');
        path.push_str(q);
    }
    Ok(request::parse_target(&format!("http://{authority}{path}"))?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(auth: &str, path: &str) -> Target {
        Target {
            authority: auth.into(),
            path: path.into(),
        }
    }

    #[test]
    fn locations() {
        let from = t("localhost", "/a/b?x=1");
        assert_eq!(follow(&from, "/c").unwrap(), t("localhost", "/c"));
        assert_eq!(follow(&from, "c?y").unwrap(), t("localhost", "/a/c?y"));
        assert_eq!(follow(&from, "../d").unwrap(), t("localhost", "/d"));
        assert_eq!(follow(&from, "?z").unwrap(), t("localhost", "/a/b?z"));
        assert_eq!(
            follow(&from, "http://Other:8080/e#frag").unwrap(),
            t("other:8080", "/e")
        );
        assert_eq!(follow(&from, "//h2/f").unwrap(), t("h2", "/f"));
        assert!(follow(&from, "https://x/").is_err());
    }

    #[test]
    fn methods() {
        let s = |n| StatusCode::from_u16(n).unwrap();
        assert_eq!(next_method(s(302), &Method::POST), (Method::GET, false));
        assert_eq!(next_method(s(301), &Method::PUT), (Method::PUT, true));
        assert_eq!(next_method(s(303), &Method::PUT), (Method::GET, false));
        assert_eq!(next_method(s(303), &Method::HEAD), (Method::HEAD, true));
        assert_eq!(next_method(s(307), &Method::POST), (Method::POST, true));
        assert_eq!(next_method(s(308), &Method::PATCH), (Method::PATCH, true));
    }
}
