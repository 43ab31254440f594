mod connect;
mod datagrams;
mod generate;
mod http;
mod layout;
mod listen;
mod ls;
mod relay;
