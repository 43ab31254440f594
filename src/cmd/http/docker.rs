//! Docker's progress streams (image pull, push, build, import: one JSON object after
//! another with `status`, `id`, `progressDetail`, `progress`, `stream`, `error`): drawn on
//! a terminal as one live line per layer, as the docker CLI draws them; piped (or with
//! --raw) the JSON stays as sent. Either way an `error` object is the request's failure.

use std::collections::HashMap;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::Value;

use super::jsonstream::Splitter;
use super::progress::{Screen, Side};
use crate::term::escape;

/// The keys of a progress message; an object with any other key is something else (an
/// event of `/events` has `status` and `id` too, but also `Type`, `Action`, `time`).
const KEYS: [&str; 8] = [
    "status",
    "id",
    "progressDetail",
    "progress",
    "error",
    "errorDetail",
    "stream",
    "aux",
];

/// Whether a first JSON value starts a progress stream.
pub fn is_progress(value: &[u8]) -> bool {
    let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(value) else {
        return false;
    };
    !o.is_empty()
        && o.keys().all(|k| KEYS.contains(&k.as_str()))
        && (o.get("status").is_some_and(Value::is_string)
            || o.get("stream").is_some_and(Value::is_string)
            || o.contains_key("error"))
}

/// The error a message of a progress stream reports, if it is an error object.
pub fn error_in(value: &[u8]) -> Option<String> {
    match serde_json::from_slice::<Value>(value) {
        Ok(Value::Object(o)) => error_of(&o),
        _ => None,
    }
}

fn error_of(o: &serde_json::Map<String, Value>) -> Option<String> {
    let detail = o
        .get("errorDetail")
        .and_then(|d| d.get("message"))
        .and_then(Value::as_str);
    match (o.get("error"), detail) {
        (Some(Value::String(e)), _) => Some(e.clone()),
        (Some(_), Some(d)) => Some(d.to_string()),
        (Some(e), None) => Some(e.to_string()),
        (None, _) => None,
    }
}

/// A layer's line while its bytes move, and otherwise.
const MOVING: &str = "{prefix}: {msg:<12} [{wide_bar}] {bytes}/{total_bytes}";
const PLAIN: &str = "{prefix}: {msg}";

/// The live board: a line per layer id, the rest printed above it.
pub struct Board {
    screen: Screen,
    multi: MultiProgress,
    layers: HashMap<String, ProgressBar>,
    /// Build output not yet ended by a newline.
    line: String,
}

impl Default for Board {
    fn default() -> Board {
        let screen = Screen::new(Side::Stdout, rustix::stdio::stdout());
        let multi = MultiProgress::with_draw_target(screen.target());
        Board {
            screen,
            multi,
            layers: HashMap::new(),
            line: String::new(),
        }
    }
}

impl Board {
    /// One message of the stream (an error object is left to the caller: it ends the
    /// request with an error line).
    pub fn show(&mut self, value: &[u8]) {
        let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(value) else {
            let _ = self.multi.println(escape(&String::from_utf8_lossy(value)));
            return;
        };
        if o.contains_key("error") {
            return;
        }
        let text = |k: &str| {
            o.get(k)
                .and_then(Value::as_str)
                .map(|s| escape(s).into_owned())
        };
        // Build output comes in pieces that are not lines ("Step 1/2 : FROM x", then "\n"):
        // shown a whole line at a time, each escaped on its own.
        if let Some(piece) = o.get("stream").and_then(Value::as_str) {
            self.line.push_str(piece);
            while let Some(end) = self.line.find('\n') {
                let line: String = self.line.drain(..=end).collect();
                let _ = self
                    .multi
                    .println(escape(line.trim_end_matches(['\n', '\r'])));
            }
            return;
        }
        let Some(status) = text("status") else {
            return;
        };
        let Some(id) = text("id") else {
            let _ = self.multi.println(status);
            return;
        };
        let detail = o.get("progressDetail");
        let num = |k: &str| detail.and_then(|d| d.get(k)).and_then(Value::as_u64);
        let style = |t: &str| {
            ProgressStyle::with_template(t)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ")
        };
        let bar = self.layers.entry(id.clone()).or_insert_with(|| {
            let b = ProgressBar::no_length()
                .with_style(style(PLAIN))
                .with_prefix(id)
                .with_message(status.clone());
            self.multi.add(b)
        });
        match (num("current"), num("total")) {
            (Some(current), Some(total)) if total > 0 => {
                bar.set_style(style(MOVING));
                bar.set_length(total);
                bar.set_position(current.min(total));
            }
            _ => bar.set_style(style(PLAIN)),
        }
        bar.set_message(status);
    }

    /// The stream ended: the layers' last lines stay, and build output without a final
    /// newline is shown.
    pub fn finish(&mut self) {
        if !self.line.is_empty() {
            let _ = self.multi.println(escape(&std::mem::take(&mut self.line)));
        }
        for bar in self.layers.values() {
            bar.finish();
        }
    }

    /// What was drawn since the last take, for stdout's writer.
    pub fn take(&self) -> Vec<u8> {
        self.screen.take()
    }
}

/// The same stream piped: the bytes go out unchanged, and are only read for an error
/// object. It watches the first value and gives up on anything that is not progress, or a
/// value larger than [`SNIFF_MAX`].
#[derive(Default)]
pub struct Sniffer {
    split: Splitter,
    /// None until the first value said what the stream is.
    progress: Option<bool>,
    pub error: Option<String>,
}

/// A progress message is a few hundred bytes; a value larger than this is something else.
const SNIFF_MAX: usize = 64 * 1024;

impl Sniffer {
    pub fn push(&mut self, data: &[u8]) {
        if self.progress == Some(false) {
            return;
        }
        let (progress, error) = (&mut self.progress, &mut self.error);
        let r = self.split.push(data, |v| {
            if progress.is_none() {
                *progress = Some(is_progress(v));
            }
            if *progress == Some(true) && error.is_none() {
                *error = error_in(v);
            }
        });
        if r.is_err() || self.split.pending() > SNIFF_MAX {
            self.progress = Some(false);
            self.split = Splitter::default();
        }
    }

    /// The end of the body: a last value without a trailing newline counts too.
    pub fn finish(&mut self) {
        if self.progress != Some(false) {
            self.push(b"\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_told_from_other_json() {
        assert!(is_progress(
            br#"{"status":"Pulling from library/busybox","id":"latest"}"#
        ));
        assert!(is_progress(br#"{"stream":"Step 1/2 : FROM busybox\n"}"#));
        assert!(is_progress(
            br#"{"errorDetail":{"message":"x"},"error":"x"}"#
        ));
        assert!(!is_progress(br#"{"status":404}"#));
        assert!(!is_progress(
            br#"{"status":"start","id":"abc","Type":"container","Action":"start"}"#
        ));
        assert!(!is_progress(br#"[{"status":"x"}]"#));
    }

    #[test]
    fn a_piped_stream_is_read_for_its_error() {
        let mut s = Sniffer::default();
        s.push(b"{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"a\"}\n{\"errorDetail\"");
        s.push(b":{\"message\":\"boom\"},\"error\":\"boom\"}");
        s.finish();
        assert_eq!(s.error.as_deref(), Some("boom"));
        let mut s = Sniffer::default();
        s.push(br#"{"message":"x","error":"not progress"}"#);
        s.finish();
        assert_eq!(s.error, None);
    }
}
