//! A gRPC status as the user sees it: the exit code grpcurl's users script against (64 +
//! the code), and the code's name, the message and any details on stderr. A status tonic
//! made from a failure of ours (the connection, an undecodable answer) is not the server's:
//! it exits 1 with the real cause.

use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage};
use tonic::{Code, Status};

use super::channel::{Channel, transport_of};
use super::codec::Undecodable;
use crate::error::{FAILURE, Fail};
use crate::term::escape;

/// grpcurl exits with this plus the status code when a call ends with a status other than
/// OK; every other failure exits 1, a usage error 2.
pub const STATUS_EXIT_BASE: i32 = 64;

/// The exit code of a status the server sent.
pub fn exit_code(code: Code) -> i32 {
    STATUS_EXIT_BASE + code as i32
}

/// The name the gRPC specification gives a code (`NOT_FOUND`), as grpcio and the docs spell it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// True when the status came from the server, not from a failure tonic put in a status.
pub fn is_from_server(s: &Status) -> bool {
    local_cause(s).is_none()
}

fn local_cause(s: &Status) -> Option<Fail> {
    if let Some(t) = transport_of(s) {
        return Some(t.fail(""));
    }
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(s);
    while let Some(e) = src {
        if let Some(u) = e.downcast_ref::<Undecodable>() {
            return Some(Fail::new(FAILURE, u.to_string()));
        }
        src = e.source();
    }
    None
}

/// The error for a status: the server's (exit 64 + code, with its name, message and
/// details), or the local failure behind it (exit 1).
pub fn fail(s: &Status, what: &str) -> anyhow::Error {
    if let Some(local) = local_cause(s) {
        let msg = local.message.trim_start_matches(": ");
        let f = Fail::new(local.code, format!("{what}: {msg}"));
        return match local.hint {
            Some(h) => f.hint(h),
            None => f,
        }
        .into();
    }
    if let Some(f) = judged_here(s, what) {
        return f.into();
    }
    let mut text = format!(
        "{what}: the server answered {} (code {})",
        code_name(s.code()),
        s.code() as i32
    );
    if !s.message().is_empty() {
        text.push_str(": ");
        text.push_str(&escape(s.message()));
    }
    if let Some(details) = details(s.details()) {
        text.push_str(&format!(" (details: {})", escape(&details)));
    }
    let f = Fail::new(exit_code(s.code()), text);
    match s.code() {
        Code::Unimplemented => f
            .hint("`udskit grpc SOCKET list SERVICE` shows the methods the server offers")
            .into(),
        _ => f.into(),
    }
}

/// [`fail`] for a status that ended a call on `channel`: when an answer message was past
/// `--max-msg-sz`, tonic's status for it (OUT_OF_RANGE, in words a tonic server also sends
/// for a request too large for it) is told as what it is.
pub fn answer_fail(s: &Status, what: &str, channel: &Channel) -> anyhow::Error {
    match channel.oversized() {
        Some(n) => Fail::new(
            exit_code(Code::ResourceExhausted),
            format!(
                "{what}: an answer message of {n} bytes is larger than --max-msg-sz ({} \
                 bytes); it was not read",
                channel.max_message
            ),
        )
        .hint("--max-msg-sz BYTES takes larger answers")
        .into(),
        None => fail(s, what),
    }
}

/// A status tonic made here from an answer that breaks gRPC's framing (not one the server
/// sent), told by tonic's own words for it (tonic/src/codec/decode.rs): those of a message
/// received in a response, and the end of the data inside a message.
fn judged_here(s: &Status, what: &str) -> Option<Fail> {
    let m = s.message();
    let ours = m.starts_with("Unexpected EOF decoding stream")
        || [
            "protocol error: received message with",
            "Error decompressing:",
        ]
        .iter()
        .any(|p| m.starts_with(p))
            && m.contains("while receiving response with status:");
    ours.then(|| {
        Fail::new(
            exit_code(s.code()),
            format!(
                "{what}: the answer is not valid gRPC ({}, code {}): {}",
                code_name(s.code()),
                s.code() as i32,
                escape(m)
            ),
        )
    })
}

/// `grpc-status-details-bin`, a google.rpc.Status, as JSON: its details with the standard
/// error types (ErrorInfo, BadRequest, ...) decoded, any other kept as type and base64.
fn details(bin: &[u8]) -> Option<String> {
    if bin.is_empty() {
        return None;
    }
    let pool = DescriptorPool::decode(tonic_types::pb::FILE_DESCRIPTOR_SET).ok()?;
    let Ok(status) = tonic_types::pb::Status::decode(bin) else {
        return Some(format!("{} undecodable bytes", bin.len()));
    };
    let shown: Vec<serde_json::Value> = status
        .details
        .iter()
        .map(|any| {
            let name = any.type_url.rsplit('/').next().unwrap_or("");
            pool.get_message_by_name(name)
                .and_then(|d| DynamicMessage::decode(d, any.value.as_slice()).ok())
                .and_then(|m| serde_json::to_value(&m).ok())
                .map(|v| serde_json::json!({"@type": any.type_url, "value": v}))
                .unwrap_or_else(|| {
                    serde_json::json!({
                        "@type": any.type_url,
                        "base64": crate::term::json::base64(&any.value),
                    })
                })
        })
        .collect();
    if shown.is_empty() {
        return None;
    }
    serde_json::to_string(&shown).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tonic's own statuses are told as ours, with grpcurl's exit codes; the server's keep
    /// "the server answered".
    #[test]
    fn statuses_made_here_are_not_the_servers() {
        let text = |s: Status| {
            let e = fail(&s, "M on S");
            let f = e.downcast_ref::<Fail>().unwrap();
            (f.code, f.message.clone())
        };
        // A tonic server's words for a request too large for it are the server's.
        assert_eq!(
            text(Status::out_of_range(
                "Error, decoded message length too large: found 5000000 bytes, the limit is: \
                 4194304 bytes"
            ))
            .1,
            "M on S: the server answered OUT_OF_RANGE (code 11): Error, decoded message \
             length too large: found 5000000 bytes, the limit is: 4194304 bytes"
        );
        let flag = "protocol error: received message with invalid compression flag: 2 (valid \
                    flags are 0 and 1)";
        assert!(
            text(Status::internal(format!("{flag}, while sending request")))
                .1
                .starts_with("M on S: the server answered INTERNAL (code 13): protocol error")
        );
        assert!(
            text(Status::internal(format!(
                "{flag} while receiving response with status: 200 OK"
            )))
            .1
            .starts_with("M on S: the answer is not valid gRPC (INTERNAL, code 13): protocol")
        );
        assert_eq!(
            text(Status::internal("Unexpected EOF decoding stream.")),
            (
                77,
                "M on S: the answer is not valid gRPC (INTERNAL, code 13): Unexpected EOF \
                 decoding stream."
                    .to_string()
            )
        );
        assert_eq!(
            text(Status::internal("boom")),
            (
                77,
                "M on S: the server answered INTERNAL (code 13): boom".to_string()
            )
        );
    }

    #[test]
    fn codes_exit_as_grpcurl_does() {
        assert_eq!(exit_code(Code::NotFound), 69);
        assert_eq!(exit_code(Code::Unauthenticated), 80);
        assert_eq!(code_name(Code::DeadlineExceeded), "DEADLINE_EXCEEDED");
    }

    #[test]
    fn details_are_decoded_when_their_type_is_standard() {
        let info = tonic_types::pb::ErrorInfo {
            reason: "QUOTA".into(),
            domain: "example.com".into(),
            metadata: Default::default(),
        };
        let status = tonic_types::pb::Status {
            code: 5,
            message: "m".into(),
            details: vec![
                prost_types::Any {
                    type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
                    value: info.encode_to_vec(),
                },
                prost_types::Any {
                    type_url: "type.example/x.Y".into(),
                    value: vec![1, 2],
                },
            ],
        };
        assert_eq!(
            details(&status.encode_to_vec()).unwrap(),
            r#"[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","value":{"domain":"example.com","reason":"QUOTA"}},{"@type":"type.example/x.Y","base64":"AQI="}]"#
        );
        assert_eq!(details(b""), None);
    }
}
