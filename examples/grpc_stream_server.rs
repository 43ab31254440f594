//! A gRPC server of one method, `udskit.test.Echo/ServerStream` of tests/fixtures/echo.proto,
//! for bench/grpc: a stream of small replies sent as fast as HTTP/2 flow control lets it,
//! so that the benchmark measures the clients and not the server (the grpcio server of
//! tests/fixtures/grpc_server.py spends more CPU per message than either client).
//!
//! It runs on the h2 crate (the HTTP/2 that tonic's own server is built on) without a
//! router or generated service code: the replies are encoded with prost into 64 KiB DATA
//! frames, a few hundred messages per frame, which costs well under a microsecond per
//! message. A negative `count` streams until the client goes away (bench/grpc samples
//! the client's memory during such a stream).
//!
//! usage: cargo run --profile quick-release --example grpc_stream_server -- SOCKET
//! Prints "ready" on stderr once it listens; serves until killed.

use std::future::poll_fn;

use bytes::{BufMut, Bytes, BytesMut};
use h2::server::SendResponse;
use http::{HeaderMap, HeaderValue, Request, Response};
use prost::Message;

#[derive(Clone, PartialEq, prost::Message)]
struct StreamRequest {
    #[prost(string, tag = "1")]
    text: String,
    #[prost(int32, tag = "2")]
    count: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct EchoReply {
    #[prost(string, tag = "1")]
    text: String,
    #[prost(int32, tag = "4")]
    index: i32,
    /// `Kind.SERVER_STREAM`.
    #[prost(int32, tag = "5")]
    kind: i32,
}

/// Bytes of replies gathered into one DATA frame's worth before it is handed to h2.
const CHUNK: usize = 64 * 1024;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: grpc_stream_server SOCKET");
    let _ = std::fs::remove_file(&path);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async move {
        let listener = tokio::net::UnixListener::bind(&path).expect("binding the socket");
        eprintln!("ready");
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut conn = match h2::server::Builder::new()
                    .initial_window_size(1 << 20)
                    .initial_connection_window_size(1 << 20)
                    .handshake::<_, Bytes>(sock)
                    .await
                {
                    Ok(c) => c,
                    Err(_) => return,
                };
                while let Some(Ok((req, respond))) = conn.accept().await {
                    tokio::spawn(serve(req, respond));
                }
            });
        }
    });
}

async fn serve(req: Request<h2::RecvStream>, mut respond: SendResponse<Bytes>) {
    let path = req.uri().path().to_string();
    let mut body = req.into_body();
    let mut got = BytesMut::new();
    while let Some(Ok(chunk)) = body.data().await {
        let _ = body.flow_control().release_capacity(chunk.len());
        got.extend_from_slice(&chunk);
    }
    let head = Response::builder()
        .status(200)
        .header("content-type", "application/grpc")
        .body(())
        .expect("a response head");
    if path != "/udskit.test.Echo/ServerStream" {
        let mut head = head;
        head.headers_mut()
            .insert("grpc-status", HeaderValue::from_static("12"));
        let _ = respond.send_response(head, true);
        return;
    }
    // One length-prefixed, uncompressed message.
    let request = got
        .get(5..)
        .and_then(|m| StreamRequest::decode(m).ok())
        .unwrap_or_default();
    let Ok(mut send) = respond.send_response(head, false) else {
        return;
    };
    let mut chunk = BytesMut::with_capacity(CHUNK + 256);
    let mut index: i64 = 0;
    let endless = request.count < 0;
    loop {
        let done = !endless && index >= i64::from(request.count);
        if !done {
            let reply = EchoReply {
                text: request.text.clone(),
                index: index as i32,
                kind: 2,
            };
            chunk.put_u8(0);
            chunk.put_u32(reply.encoded_len() as u32);
            reply.encode(&mut chunk).expect("room in a BytesMut");
            index += 1;
        }
        if (done && !chunk.is_empty()) || chunk.len() >= CHUNK {
            let mut data = chunk.split().freeze();
            while !data.is_empty() {
                send.reserve_capacity(data.len());
                let room = match poll_fn(|cx| send.poll_capacity(cx)).await {
                    Some(Ok(n)) => n,
                    _ => return, // the client went away
                };
                let n = room.min(data.len());
                if n > 0 && send.send_data(data.split_to(n), false).is_err() {
                    return;
                }
            }
            chunk.reserve(CHUNK + 256);
        }
        if done {
            break;
        }
    }
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let _ = send.send_trailers(trailers);
}
