//! Archiving a boxed field as the value itself ([`Unboxed`]).
//!
//! Every message of a protocol shares one enum, so its largest variant sets
//! the size of all: the runtime moves each message through several queues
//! (outbox, a link's mailbox, the writer's batch; on the other side the
//! reader's batch and the replica's inbox), and a rare state-transfer
//! variant made every SwiftPaxos vote 176 bytes. Boxing the rare variants'
//! big fields shrinks the enum; archiving the box as its content keeps the
//! wire format, so logs written before still read back.

use rkyv::rancor::Fallible;
use rkyv::with::{ArchiveWith, DeserializeWith, SerializeWith};
use rkyv::{Archive, Deserialize, Place, Serialize};

/// `#[rkyv(with = Unboxed)]` on a `Box<T>` field: archived exactly as a `T`
/// field would be (`rkyv::with::Map<Unboxed>` for an `Option<Box<T>>`).
#[derive(Debug)]
pub struct Unboxed;

impl<T: Archive> ArchiveWith<Box<T>> for Unboxed {
    type Archived = T::Archived;
    type Resolver = T::Resolver;

    fn resolve_with(field: &Box<T>, resolver: Self::Resolver, out: Place<Self::Archived>) {
        field.as_ref().resolve(resolver, out);
    }
}

impl<T: Serialize<S>, S: Fallible + ?Sized> SerializeWith<Box<T>, S> for Unboxed {
    fn serialize_with(field: &Box<T>, serializer: &mut S) -> Result<Self::Resolver, S::Error> {
        field.as_ref().serialize(serializer)
    }
}

impl<T, D> DeserializeWith<T::Archived, Box<T>, D> for Unboxed
where
    T: Archive,
    T::Archived: Deserialize<T, D>,
    D: Fallible + ?Sized,
{
    fn deserialize_with(field: &T::Archived, deserializer: &mut D) -> Result<Box<T>, D::Error> {
        Ok(Box::new(field.deserialize(deserializer)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkyv::rancor::Error;
    use rkyv::with::Map;

    #[derive(Archive, Serialize, Deserialize, Debug, PartialEq, Clone)]
    struct Inner {
        n: u16,
        xs: Vec<u64>,
    }

    #[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
    struct Plain {
        a: u32,
        big: Inner,
        maybe: Option<Inner>,
    }

    #[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
    struct Boxed {
        a: u32,
        #[rkyv(with = Unboxed)]
        big: Box<Inner>,
        #[rkyv(with = Map<Unboxed>)]
        maybe: Option<Box<Inner>>,
    }

    #[test]
    fn a_boxed_field_has_the_bytes_of_the_plain_one() {
        let big = Inner {
            n: 9,
            xs: vec![1, 2, 3],
        };
        for maybe in [None, Some(Inner { n: 2, xs: vec![4, 5] })] {
            let plain = Plain {
                a: 7,
                big: big.clone(),
                maybe: maybe.clone(),
            };
            let boxed = Boxed {
                a: 7,
                big: Box::new(big.clone()),
                maybe: maybe.map(Box::new),
            };
            let plain_bytes = rkyv::to_bytes::<Error>(&plain).expect("serializes");
            let boxed_bytes = rkyv::to_bytes::<Error>(&boxed).expect("serializes");
            assert_eq!(plain_bytes.as_slice(), boxed_bytes.as_slice());
            let back = rkyv::from_bytes::<Boxed, Error>(&plain_bytes).expect("reads the plain layout");
            assert_eq!(back, boxed);
        }
    }
}
