//! JSON output of our own: one object per line with its keys in a fixed order, coloured
//! like jq when colour is on; base64 and RFC 3339 timestamps for the values inside.

/// Standard base64 with padding (RFC 4648), for binary data inside JSON.
pub fn base64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// `2026-11-21T08:52:33.123456Z`: RFC 3339 in UTC with microseconds.
pub fn utc_timestamp(t: std::time::SystemTime) -> String {
    // humantime panics on a time before 1970 or after 9999: a clock set that far off is clamped.
    let last = std::time::UNIX_EPOCH + std::time::Duration::from_secs(253_402_300_799);
    humantime::format_rfc3339_micros(t.clamp(std::time::UNIX_EPOCH, last)).to_string()
}

/// Writes one JSON object with its keys in the given order (serde_json escapes the values),
/// coloured like jq when `color`: keys blue, strings green, null grey.
pub fn json_object(out: &mut Vec<u8>, fields: &[(&str, serde_json::Value)], color: bool) {
    use anstyle::{AnsiColor, Style};
    const KEY: Style = AnsiColor::Blue.on_default().bold();
    const STRING: Style = AnsiColor::Green.on_default();
    const NULL: Style = AnsiColor::BrightBlack.on_default();
    let paint = |out: &mut Vec<u8>, style: Style, text: &str| {
        let style = super::paint(style, color);
        out.extend_from_slice(format!("{style}{text}{style:#}").as_bytes());
    };
    out.push(b'{');
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        paint(out, KEY, &serde_json::Value::from(*key).to_string());
        out.push(b':');
        let text = value.to_string();
        match value {
            serde_json::Value::String(_) => paint(out, STRING, &text),
            serde_json::Value::Null => paint(out, NULL, &text),
            _ => out.extend_from_slice(text.as_bytes()),
        }
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_keep_key_order_and_colour_only_when_asked() {
        let fields = [
            ("b", serde_json::Value::from("x\"y")),
            ("a", serde_json::Value::Null),
            ("n", serde_json::Value::from(3)),
        ];
        let mut plain = Vec::new();
        json_object(&mut plain, &fields, false);
        assert_eq!(plain, br#"{"b":"x\"y","a":null,"n":3}"#);
        let mut painted = Vec::new();
        json_object(&mut painted, &fields, true);
        assert_eq!(
            String::from_utf8(painted).unwrap(),
            "{\x1b[1m\x1b[34m\"b\"\x1b[0m:\x1b[32m\"x\\\"y\"\x1b[0m,\x1b[1m\x1b[34m\"a\"\x1b[0m:\x1b[90mnull\x1b[0m,\x1b[1m\x1b[34m\"n\"\x1b[0m:3}"
        );
    }

    #[test]
    fn base64_and_timestamps() {
        for (raw, b64) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            assert_eq!(base64(raw.as_bytes()), b64);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_795_683_153_123_456);
        assert_eq!(utc_timestamp(t), "2026-11-26T08:52:33.123456Z");
        assert_eq!(
            utc_timestamp(std::time::UNIX_EPOCH),
            "1970-01-01T00:00:00.000000Z"
        );
        let leap = std::time::UNIX_EPOCH + std::time::Duration::from_secs(951_782_400);
        assert_eq!(utc_timestamp(leap), "2000-02-29T00:00:00.000000Z");
        let before = std::time::UNIX_EPOCH - std::time::Duration::from_secs(1);
        assert_eq!(utc_timestamp(before), "1970-01-01T00:00:00.000000Z");
    }
}
