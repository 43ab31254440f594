mod connect;
mod datagrams;
mod generate;
mod listen;
