//! `udskit grpc SOCKET list|describe|call`: a grpcurl for sockets. h2c on our own
//! connected stream (any address of the grammar, `:authority` localhost), the schema from
//! server reflection or the user's .proto files, messages in and out as protobuf JSON, and
//! the call's status turned into grpcurl's exit codes.

mod call;
mod channel;
mod codec;
mod describe;
mod schema;
mod status;

use std::path::PathBuf;
use std::time::Duration;

use tonic::metadata::{AsciiMetadataKey, BinaryMetadataKey, MetadataMap, MetadataValue};

use crate::duration::{self, MaxTime};
use crate::error::{FAILURE, Fail};
use crate::io::stdio::Writer;
use crate::net::addr::Addr;
use crate::shutdown::Shutdown;
use crate::term::{Ctx, escape};
use schema::Schema;

/// gRPC over a unix socket, like grpcurl (containerd, CRI and CSI sockets, sidecars)
///
/// list [SERVICE]        the services, or the methods of SERVICE
/// describe [SYMBOL]     a service, method, message or enum as .proto text
/// call SERVICE/METHOD   call it with -d JSON (default {}); every kind of method: unary,
///                       server-streaming (each answer printed as it arrives),
///                       client-streaming and bidirectional (one JSON message per line)
///
/// The schema comes from the server's reflection service (grpc.reflection.v1, else
/// v1alpha), or from --proto FILE (-I DIR for imports) or --protoset FILE when the server
/// has none. Messages use the protobuf JSON mapping; answers are pretty-printed and coloured
/// on a terminal, one object per line when piped.
///
/// Exit codes as grpcurl's: 64 + the status code when the call ends with a status other
/// than OK (69 NOT_FOUND, 68 DEADLINE_EXCEEDED, also after --max-time), 1 for any other
/// failure (could not connect, not a gRPC server, no reflection), 2 usage error.
///
/// Example:
///   udskit grpc /run/app.sock list
///   udskit grpc /run/app.sock describe helloworld.Greeter
///   udskit grpc /run/app.sock call helloworld.Greeter/SayHello -d '{"name": "x"}'
#[derive(clap::Args, Debug)]
#[command(
    override_usage = "udskit grpc [OPTIONS] <SOCKET> list [SERVICE]\n       udskit grpc [OPTIONS] <SOCKET> describe [SYMBOL]\n       udskit grpc [OPTIONS] <SOCKET> call <SERVICE/METHOD>",
    verbatim_doc_comment
)]
pub struct Args {
    /// The socket: PATH, @NAME, unix:///PATH or tcp:HOST:PORT
    #[arg(value_name = "SOCKET")]
    pub socket: Addr,
    /// What to do: list, describe or call
    #[arg(value_enum, value_name = "VERB")]
    pub verb: Verb,
    /// The service (list), symbol (describe) or SERVICE/METHOD (call)
    #[arg(value_name = "SYMBOL")]
    pub symbol: Option<String>,
    /// The request: JSON, @FILE or @- (stdin). For a streaming request, JSON messages one
    /// after the other (stdin: one per line, sent as each line arrives); stdin by default
    #[arg(short = 'd', long, value_name = "DATA")]
    pub data: Option<String>,
    /// Metadata sent with the call and with reflection requests, 'name: value'
    /// (repeatable); a name ending in -bin takes base64
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// The :authority of every request
    #[arg(long, value_name = "HOST", default_value = "localhost")]
    pub authority: String,
    /// Take the schema from this .proto file instead of reflection (repeatable)
    #[arg(long = "proto", value_name = "FILE", conflicts_with = "protosets")]
    pub protos: Vec<PathBuf>,
    /// Where imports of --proto files are looked up (repeatable; default: each file's
    /// directory); google/protobuf's own files are built in
    #[arg(
        short = 'I',
        long = "import-path",
        value_name = "DIR",
        requires = "protos"
    )]
    pub includes: Vec<PathBuf>,
    /// Take the schema from this FileDescriptorSet (protoc --include_imports
    /// --descriptor_set_out) instead of reflection (repeatable)
    #[arg(long = "protoset", value_name = "FILE")]
    pub protosets: Vec<PathBuf>,
    /// Answers with fields at their default values too (the protobuf JSON mapping leaves
    /// them out)
    #[arg(long)]
    pub emit_defaults: bool,
    /// Give up the whole command after DURATION (exit 68, DEADLINE_EXCEEDED); the call's
    /// deadline is sent to the server as grpc-timeout; 0: no limit
    #[arg(short, long, value_name = "DURATION", value_parser = duration::parse)]
    pub max_time: Option<Duration>,
    /// The largest answer message to take, in bytes (grpcurl's -max-msg-sz); a larger one
    /// ends the call, exit 72 (RESOURCE_EXHAUSTED), before its bytes are read
    #[arg(long, value_name = "BYTES", default_value_t = 4 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_msg_sz: u64,
    #[command(flatten)]
    pub connect: crate::net::connect::ConnectOpts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Verb {
    List,
    Describe,
    Call,
}

/// The command line, validated.
struct Plan {
    metadata: MetadataMap,
    data: Option<call::Data>,
}

fn plan(args: &Args) -> Result<Plan, Fail> {
    if args.socket.is_udp() {
        return Err(Fail::usage(format!(
            "{}: a UDP address carries datagrams; gRPC runs over HTTP/2 on a stream socket",
            escape(&args.socket.to_string())
        ))
        .hint(
            "for a server on that port over TCP write tcp:HOST:PORT; for a unix socket, its \
             PATH or @NAME",
        ));
    }
    if args.verb == Verb::Call && args.symbol.is_none() {
        return Err(Fail::usage("call needs the method: call SERVICE/METHOD"));
    }
    if args.verb != Verb::Call && args.data.is_some() {
        return Err(Fail::usage(
            "-d is for call; list and describe send no message",
        ));
    }
    let mut metadata = MetadataMap::new();
    for h in &args.headers {
        let bad = |why: &str| {
            Fail::usage(format!("-H '{}': {why}", escape(h))).hint("write -H 'name: value'")
        };
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| bad("no ':' between the name and the value"))?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name.ends_with("-bin") {
            use base64::Engine as _;
            let key = BinaryMetadataKey::from_bytes(name.as_bytes())
                .map_err(|_| bad("not a valid metadata name"))?;
            let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(value.trim_end_matches('='))
                .map_err(|_| bad("a -bin value is base64"))?;
            metadata.append_bin(key, MetadataValue::from_bytes(&bytes));
        } else {
            let key = AsciiMetadataKey::from_bytes(name.as_bytes())
                .map_err(|_| bad("not a valid metadata name"))?;
            let value = value
                .parse()
                .map_err(|_| bad("the value holds characters metadata cannot carry"))?;
            metadata.append(key, value);
        }
    }
    Ok(Plan {
        metadata,
        data: args.data.as_deref().map(call::Data::parse),
    })
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let plan = plan(&args)?;
    let stop = Shutdown::install()?;
    let clock = MaxTime::new(args.max_time);
    let socket = escape(&args.socket.to_string()).into_owned();
    let (out, out_done) = Writer::spawn();
    let verb = match args.verb {
        Verb::List => "list",
        Verb::Describe => "describe",
        Verb::Call => "call",
    };
    let what = match &args.symbol {
        Some(s) if args.verb == Verb::Call => format!("{} on {socket}", escape(s)),
        Some(s) => format!("{verb} {} on {socket}", escape(s)),
        None => format!("{verb} on {socket}"),
    };
    let work = async {
        let local = schema::local(&args.protos, &args.includes, &args.protosets)?;
        // A schema of the user's own answers list and describe without asking the server.
        let (mut schema, channel) = match local {
            Some(s) if args.verb != Verb::Call => (s, None),
            local => {
                let stream = channel::connect(&args.socket, args.connect).await?;
                if let Some(c) = stream.peer_cred() {
                    ctx.debug(format!("connected to {socket} ({c})"));
                }
                let max = usize::try_from(args.max_msg_sz).unwrap_or(usize::MAX);
                let ch = channel::handshake(stream, &args.authority, max).await?;
                let s = match local {
                    Some(s) => s,
                    None => Schema::reflection(
                        ch.clone(),
                        plan.metadata.clone(),
                        format!("reflection on {socket}"),
                    ),
                };
                (s, Some(ch))
            }
        };
        match (args.verb, channel) {
            (Verb::List, _) => list(&mut schema, args.symbol.as_deref(), &out, &what).await,
            (Verb::Describe, _) => describe(&mut schema, args.symbol.as_deref(), &out, &what).await,
            (Verb::Call, Some(ch)) => {
                let method = args.symbol.as_deref().unwrap_or_default();
                let call = call::Call {
                    channel: ch,
                    metadata: plan.metadata.clone(),
                    timeout: clock.left(),
                    emit_defaults: args.emit_defaults,
                    what: what.clone(),
                };
                call.run(&mut schema, method, plan.data.clone(), &out, ctx, &stop)
                    .await
            }
            (Verb::Call, None) => unreachable!("a call always connects"),
        }
    };
    let late = || {
        let code = status::exit_code(tonic::Code::DeadlineExceeded);
        Fail::new(code, clock.missed(&what, "not done"))
    };
    let result = tokio::select! {
        r = work => r,
        _ = clock.expired() => Err(late().into()),
        _ = stop.stopped() => Ok(()),
    };
    drop(out);
    // Not past --max-time: a stdout nobody reads must not keep the command alive.
    let written = clock.before(out_done.finish(&stop), Ok(())).await;
    result?;
    written.map_err(|e| Fail::new(FAILURE, format!("writing stdout: {e}")))?;
    Ok(())
}

async fn write_text(out: &Writer, text: String) -> anyhow::Result<()> {
    match out.write(text.into()).await {
        Err(e) if !crate::error::is_broken_pipe(&e) => Err(e.into()),
        _ => Ok(()),
    }
}

/// `list`: the services, one per line; `list SERVICE`: its methods by their full names.
async fn list(
    schema: &mut Schema,
    service: Option<&str>,
    out: &Writer,
    what: &str,
) -> anyhow::Result<()> {
    let text = match service {
        None => schema
            .services()
            .await?
            .iter()
            .map(|s| format!("{}\n", escape(s)))
            .collect::<String>(),
        Some(name) => {
            let name = name.trim_start_matches('.');
            schema.load(name).await?;
            let svc = schema
                .pool
                .get_service_by_name(name)
                .ok_or_else(|| unknown(what, name, "service"))?;
            svc.methods()
                .map(|m| format!("{}\n", m.full_name()))
                .collect()
        }
    };
    write_text(out, text).await
}

/// `describe`: SYMBOL, or every service.
async fn describe(
    schema: &mut Schema,
    symbol: Option<&str>,
    out: &Writer,
    what: &str,
) -> anyhow::Result<()> {
    let symbols = match symbol {
        Some(s) => vec![s.trim_start_matches('.').to_string()],
        None => schema.services().await?,
    };
    let mut text = String::new();
    for s in &symbols {
        schema.load(s).await?;
        let shown =
            describe::describe(&schema.pool, s).ok_or_else(|| unknown(what, s, "symbol"))?;
        text.push_str(&shown);
    }
    write_text(out, text).await
}

fn unknown(what: &str, name: &str, kind: &str) -> Fail {
    Fail::new(
        FAILURE,
        format!("{what}: the schema has no {kind} {}", escape(name)),
    )
    .hint("`udskit grpc SOCKET list` shows the services the schema holds")
}
