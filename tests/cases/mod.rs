mod connect;
mod generate;
mod listen;
