//! Byte mutations of a valid document, chosen by the fuzzer.
//!
//! Random bytes almost never get past a decoder's first check (a snapshot's magic, a JSON object's
//! first field). Mutating a valid document instead reaches the checks deep inside it: a length that
//! runs past the end, a count that disagrees with what follows, an id that names nothing.

use arbitrary::Arbitrary;

/// Mutations applied to one document, at most: a few at once find disagreements between two places
/// (a length and its contents, a total and its parts); many more turn the document into noise.
pub const MUTATIONS_MAX: usize = 8;

/// Bytes one insertion may add, at most.
pub const INSERTED_BYTES_MAX: usize = 16;

/// One change to a document. Positions are taken modulo the document's length at the time.
#[derive(Arbitrary, Debug, Clone)]
pub enum Mutation {
    /// Flips one bit.
    FlipBit {
        /// Where.
        at: u16,
        /// Which bit (modulo 8).
        bit: u8,
    },
    /// Replaces one byte.
    Replace {
        /// Where.
        at: u16,
        /// The new byte.
        byte: u8,
    },
    /// Inserts bytes (at most [`INSERTED_BYTES_MAX`]).
    Insert {
        /// Where.
        at: u16,
        /// What.
        bytes: Vec<u8>,
    },
    /// Removes up to 255 bytes.
    Remove {
        /// From where.
        at: u16,
        /// How many.
        length: u8,
    },
    /// Overwrites bytes with a number as postcard writes it (a variable-length integer), the way
    /// snapshots store lengths, counts, ids and amounts.
    WriteVarint {
        /// Where.
        at: u16,
        /// The number.
        value: u64,
    },
    /// Overwrites bytes with a number in decimal, the way JSON documents store them.
    WriteDecimal {
        /// Where.
        at: u16,
        /// The number.
        value: u64,
    },
    /// Cuts the document short.
    Truncate {
        /// The new length.
        at: u16,
    },
}

/// Applies the first [`MUTATIONS_MAX`] of `mutations` to `document`, in order.
pub fn apply(document: &mut Vec<u8>, mutations: &[Mutation]) {
    for mutation in mutations.iter().take(MUTATIONS_MAX) {
        let position = |at: u16, room: usize| usize::from(at) % room.max(1);
        match mutation {
            Mutation::FlipBit { at, bit } => {
                if !document.is_empty() {
                    let at = position(*at, document.len());
                    document[at] ^= 1 << (bit % 8);
                }
            }
            Mutation::Replace { at, byte } => {
                if !document.is_empty() {
                    let at = position(*at, document.len());
                    document[at] = *byte;
                }
            }
            Mutation::Insert { at, bytes } => {
                let at = position(*at, document.len() + 1);
                let bytes = &bytes[..bytes.len().min(INSERTED_BYTES_MAX)];
                document.splice(at..at, bytes.iter().copied());
            }
            Mutation::Remove { at, length } => {
                let at = position(*at, document.len() + 1);
                let end = (at + usize::from(*length)).min(document.len());
                document.drain(at..end);
            }
            Mutation::WriteVarint { at, value } => overwrite(document, *at, &varint(*value)),
            Mutation::WriteDecimal { at, value } => overwrite(document, *at, value.to_string().as_bytes()),
            Mutation::Truncate { at } => {
                let at = position(*at, document.len() + 1);
                document.truncate(at);
            }
        }
    }
}

/// Writes `bytes` over the document from `at` (modulo its length), growing it if they run past the
/// end.
fn overwrite(document: &mut Vec<u8>, at: u16, bytes: &[u8]) {
    let at = usize::from(at) % (document.len() + 1);
    let end = (at + bytes.len()).min(document.len());
    document.splice(at..end, bytes.iter().copied());
}

/// `value` as a LEB128 varint: seven bits per byte, low bits first, the top bit set on all but the
/// last byte (postcard's encoding of unsigned integers).
fn varint(mut value: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(10);
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            bytes.push(low);
            return bytes;
        }
        bytes.push(low | 0x80);
    }
}
