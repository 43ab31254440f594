mod connect;
mod datagrams;
mod generate;
mod http;
mod listen;
mod relay;
