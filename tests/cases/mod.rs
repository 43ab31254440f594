mod connect;
mod datagrams;
mod generate;
mod http;
mod listen;
mod ls;
mod relay;
