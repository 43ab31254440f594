mod connect;
mod generate;
mod http;
mod listen;
