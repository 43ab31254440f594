mod connect;
mod generate;
mod listen;
mod relay;
