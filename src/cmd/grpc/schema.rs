//! Where `udskit grpc` learns the schema: the server's reflection service (v1, falling back
//! to v1alpha, which is all grpcio offers), or the user's `--proto` files (compiled by protox)
//! or `--protoset` (a FileDescriptorSet). Reflection fills a descriptor pool file by file, as
//! symbols are asked for.

use std::path::{Path, PathBuf};

use http::uri::PathAndQuery;
use prost::Message as _;
use prost_reflect::DescriptorPool;
use prost_types::FileDescriptorProto;
use tonic::Code;
use tonic::client::Grpc;
use tonic::metadata::MetadataMap;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

use super::channel::Channel;
use super::status;
use crate::error::{FAILURE, Fail};
use crate::term::escape;

/// The reflection service's two versions. Their messages are the same on the wire (the
/// same fields under the same numbers), so v1's types serve both; only the path differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V1Alpha,
}

impl Version {
    fn path(self) -> &'static str {
        match self {
            Version::V1 => "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            Version::V1Alpha => "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        }
    }
}

/// The descriptors known so far, and where more come from.
pub struct Schema {
    pub pool: DescriptorPool,
    reflection: Option<Reflection>,
}

struct Reflection {
    channel: Channel,
    metadata: MetadataMap,
    /// The version that answered, once one has.
    version: Option<Version>,
    /// What the user reached, for messages: "reflection on /run/x.sock".
    what: String,
}

/// The schema given on the command line, if any: `--protoset FILE`s, or `--proto FILE`s
/// compiled with the `-I DIR` import paths (the files' own directories when none is given).
pub fn local(
    protos: &[PathBuf],
    includes: &[PathBuf],
    protosets: &[PathBuf],
) -> anyhow::Result<Option<Schema>> {
    if !protosets.is_empty() {
        let mut pool = DescriptorPool::new();
        for p in protosets {
            let shown = escape(&p.display().to_string()).into_owned();
            let bytes = std::fs::read(p)
                .map_err(|e| Fail::new(FAILURE, format!("reading --protoset {shown}: {e}")))?;
            let set = prost_types::FileDescriptorSet::decode(bytes.as_slice()).map_err(|e| {
                Fail::new(
                    FAILURE,
                    format!("--protoset {shown}: not a FileDescriptorSet: {e}"),
                )
                .hint("make one with protoc --include_imports --descriptor_set_out=FILE x.proto")
            })?;
            pool.add_file_descriptor_set(set).map_err(|e| {
                Fail::new(FAILURE, format!("--protoset {shown}: {e}")).hint(
                    "a descriptor set must hold every file it imports (protoc --include_imports)",
                )
            })?;
        }
        return Ok(Some(Schema {
            pool,
            reflection: None,
        }));
    }
    if protos.is_empty() {
        return Ok(None);
    }
    let mut dirs: Vec<PathBuf> = includes.to_vec();
    if dirs.is_empty() {
        for p in protos {
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !dirs.iter().any(|d| d == dir) {
                dirs.push(dir.to_path_buf());
            }
        }
    }
    let shown = protos
        .iter()
        .map(|p| escape(&p.display().to_string()).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    let compiled = (|| -> Result<DescriptorPool, protox::Error> {
        let mut c = protox::Compiler::new(&dirs)?;
        c.include_imports(true);
        c.open_files(protos)?;
        Ok(c.descriptor_pool())
    })();
    let pool = compiled.map_err(|e| {
        Fail::new(FAILURE, format!("compiling {shown}: {}", protox_error(&e))).hint(
            "imports are looked up under each -I DIR (default: the directory of each --proto FILE)",
        )
    })?;
    Ok(Some(Schema {
        pool,
        reflection: None,
    }))
}

/// protox's error with its location, `x.proto:3:5: ...`.
fn protox_error(e: &protox::Error) -> String {
    let s = e.to_string();
    match e.file() {
        Some(f) if !s.contains(f) => format!("{f}: {s}"),
        _ => s,
    }
}

impl Schema {
    /// A schema learnt from the server's reflection service.
    pub fn reflection(channel: Channel, metadata: MetadataMap, what: String) -> Schema {
        Schema {
            pool: DescriptorPool::new(),
            reflection: Some(Reflection {
                channel,
                metadata,
                version: None,
                what,
            }),
        }
    }

    /// The services the server (or the given files) offer, sorted.
    pub async fn services(&mut self) -> anyhow::Result<Vec<String>> {
        let mut names: Vec<String> = match &mut self.reflection {
            None => self
                .pool
                .services()
                .map(|s| s.full_name().to_string())
                .collect(),
            Some(r) => match r.ask(MessageRequest::ListServices(String::new())).await? {
                MessageResponse::ListServicesResponse(l) => {
                    l.service.into_iter().map(|s| s.name).collect()
                }
                _ => return Err(r.odd("list_services").into()),
            },
        };
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Makes sure the pool holds `symbol` (a service, method, message or enum) if the
    /// source knows it; false if it does not.
    pub async fn load(&mut self, symbol: &str) -> anyhow::Result<bool> {
        if knows(&self.pool, symbol) {
            return Ok(true);
        }
        let Some(r) = &mut self.reflection else {
            return Ok(false);
        };
        let answer = r
            .ask(MessageRequest::FileContainingSymbol(symbol.to_string()))
            .await?;
        let files = match answer {
            MessageResponse::FileDescriptorResponse(f) => f.file_descriptor_proto,
            // Some servers (grpcio) know services and types but not their methods: a
            // method is looked for through its service.
            MessageResponse::ErrorResponse(e) if e.error_code == Code::NotFound as i32 => {
                return match symbol.rsplit_once('.') {
                    Some((parent, _)) if !knows(&self.pool, parent) => {
                        Box::pin(self.load(parent)).await?;
                        Ok(knows(&self.pool, symbol))
                    }
                    _ => Ok(false),
                };
            }
            MessageResponse::ErrorResponse(e) => return Err(r.refused(&e).into()),
            _ => return Err(r.odd("file_containing_symbol").into()),
        };
        let mut got = decode_files(&files, &r.what)?;
        // The answer usually carries the file's imports too; any it lacks are asked for.
        loop {
            let missing: Vec<String> = got
                .iter()
                .flat_map(|f| f.dependency.iter())
                .filter(|d| {
                    self.pool.get_file_by_name(d).is_none()
                        && !got.iter().any(|f| f.name() == d.as_str())
                })
                .cloned()
                .collect();
            let Some(name) = missing.into_iter().next() else {
                break;
            };
            match r.ask(MessageRequest::FileByFilename(name.clone())).await? {
                MessageResponse::FileDescriptorResponse(f) => {
                    let more = decode_files(&f.file_descriptor_proto, &r.what)?;
                    if !more.iter().any(|f| f.name() == name) {
                        return Err(Fail::new(
                            FAILURE,
                            format!("{}: the server did not send {}", r.what, escape(&name)),
                        )
                        .into());
                    }
                    got.extend(more);
                }
                MessageResponse::ErrorResponse(e) => return Err(r.refused(&e).into()),
                _ => return Err(r.odd("file_by_filename").into()),
            }
        }
        got.retain(|f| self.pool.get_file_by_name(f.name()).is_none());
        self.pool.add_file_descriptor_protos(got).map_err(|e| {
            Fail::new(
                FAILURE,
                format!("{}: the server's descriptors: {e}", r.what),
            )
        })?;
        Ok(knows(&self.pool, symbol))
    }
}

/// Whether `pool` holds `symbol` under any kind of name.
fn knows(pool: &DescriptorPool, symbol: &str) -> bool {
    pool.get_service_by_name(symbol).is_some()
        || pool.get_message_by_name(symbol).is_some()
        || pool.get_enum_by_name(symbol).is_some()
        || symbol.rsplit_once('.').is_some_and(|(svc, m)| {
            pool.get_service_by_name(svc)
                .is_some_and(|s| s.methods().any(|x| x.name() == m))
        })
}

fn decode_files(files: &[Vec<u8>], what: &str) -> Result<Vec<FileDescriptorProto>, Fail> {
    files
        .iter()
        .map(|b| {
            FileDescriptorProto::decode(b.as_slice()).map_err(|e| {
                Fail::new(
                    FAILURE,
                    format!("{what}: a file descriptor that does not decode: {e}"),
                )
            })
        })
        .collect()
}

impl Reflection {
    /// One request on a stream of its own; v1 first, v1alpha when v1 is not offered.
    async fn ask(&mut self, req: MessageRequest) -> anyhow::Result<MessageResponse> {
        let versions = match self.version {
            Some(v) => vec![v],
            None => vec![Version::V1, Version::V1Alpha],
        };
        for v in versions {
            let mut grpc = Grpc::with_origin(self.channel.clone(), self.channel.origin.clone())
                .max_decoding_message_size(self.channel.max_message);
            grpc.ready().await.map_err(|t| t.fail(&self.what))?;
            let mut request = tonic::Request::new(tokio_stream::once(ServerReflectionRequest {
                host: String::new(),
                message_request: Some(req.clone()),
            }));
            *request.metadata_mut() = self.metadata.clone();
            let codec = tonic_prost::ProstCodec::<ServerReflectionRequest, ServerReflectionResponse>::default();
            let answer = match grpc
                .streaming(request, PathAndQuery::from_static(v.path()), codec)
                .await
            {
                Ok(resp) => resp.into_inner().message().await,
                Err(s) => Err(s),
            };
            match answer {
                Ok(Some(ServerReflectionResponse {
                    message_response: Some(m),
                    ..
                })) => {
                    self.version = Some(v);
                    return Ok(m);
                }
                Ok(_) => {
                    return Err(Fail::new(
                        FAILURE,
                        format!("{}: the reflection service answered nothing", self.what),
                    )
                    .into());
                }
                Err(s) if s.code() == Code::Unimplemented && status::is_from_server(&s) => {}
                Err(s) => return Err(status::answer_fail(&s, &self.what, &self.channel)),
            }
        }
        Err(Fail::new(
            FAILURE,
            format!(
                "{}: the server does not offer reflection (neither grpc.reflection.v1 nor v1alpha)",
                self.what
            ),
        )
        .hint("give the schema with --proto FILE (and -I DIR for its imports) or --protoset FILE")
        .into())
    }

    fn refused(&self, e: &tonic_reflection::pb::v1::ErrorResponse) -> Fail {
        Fail::new(
            FAILURE,
            format!(
                "{}: the reflection service refused: {} ({})",
                self.what,
                escape(&e.error_message),
                status::code_name(Code::from(e.error_code))
            ),
        )
    }

    fn odd(&self, asked: &str) -> Fail {
        Fail::new(
            FAILURE,
            format!(
                "{}: the reflection service answered {asked} with something else",
                self.what
            ),
        )
    }
}
