mod connect;
mod generate;
mod listen;
mod ls;
