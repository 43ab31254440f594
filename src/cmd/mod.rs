//! One module per subcommand, each owning its `Args` (the clap definition, whose doc
//! comments are the help text) and its `run`; a folder for the big ones (http, grpc, relay, ls)
//! with their private pieces beside `mod.rs`.

pub mod connect;
pub mod generate;
pub mod grpc;
pub mod http;
pub mod listen;
pub mod ls;
pub mod recvfrom;
pub mod relay;
pub mod sendto;
