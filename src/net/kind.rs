//! The socket types a unix address can have: the vocabulary that binding, connecting, the
//! kernel's socket table and every subcommand share.

/// The socket types a unix address can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Stream,
    SeqPacket,
    Datagram,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Stream => "stream",
            Kind::SeqPacket => "seqpacket",
            Kind::Datagram => "datagram",
        }
    }

    pub fn stream_or_seqpacket(seqpacket: bool) -> Kind {
        if seqpacket {
            Kind::SeqPacket
        } else {
            Kind::Stream
        }
    }
}
