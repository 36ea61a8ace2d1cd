//! How often each case of a recipe is chosen.
//!
//! A derived `Arbitrary` picks every case of an enum equally often. For most choices that would waste
//! the fuzzer's time: with a wrong key, a replayed nonce, or an oversized envelope as likely as the
//! right ones, most envelopes would be refused whole and streams would never get far enough for
//! escrows to be disputed or deliveries to be dead-lettered. So the usual case is the first (what a
//! byte of zeros, or running out of input, chooses) and the most frequent; the cases that are refused
//! come often enough to be exercised everywhere, but not so often that they stop streams. The weights
//! follow the testkit's strategies for the same choices.

use arbitrary::{Arbitrary, Result, Unstructured};

use super::commands::BatchRecipe;
use super::{
    Advance, AgentRecipe, AmountRecipe, CapabilitiesRecipe, ConfigRecipe, ConsumerVariantRecipe, DeadLetterRecipe,
    DeliveryRecipe, EscrowRecipe, KeyRecipe, NonceRecipe, PayloadRecipe, PreimageRecipe, ReasonRecipe, RoleRecipe,
    SignerRecipe, StepRecipe, StreamVariantRecipe, TimeoutRecipe, TransferIdRecipe,
};

/// The index of one of the cases, each chosen in proportion to its weight.
pub(super) fn pick(input: &mut Unstructured<'_>, weights: &[u32]) -> Result<usize> {
    let total: u32 = weights.iter().sum();
    let mut point = input.int_in_range(0..=total - 1)?;
    for (index, weight) in weights.iter().enumerate() {
        if point < *weight {
            return Ok(index);
        }
        point -= weight;
    }
    unreachable!("the point is below the total of the weights")
}

impl<'a> Arbitrary<'a> for StepRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        // Oversized envelopes are rare: each holds ten thousand commands, which would take most of the
        // time of every stream that holds one, for a check that fails at once.
        Ok(match pick(input, &[800, 120, 79, 1])? {
            0 => StepRecipe::Envelope {
                advance: input.arbitrary()?,
                signer: input.arbitrary()?,
                key: input.arbitrary()?,
                nonce: input.arbitrary()?,
                commands: input.arbitrary()?,
            },
            1 => StepRecipe::Tick(input.arbitrary()?),
            2 => StepRecipe::SelfRegistration {
                advance: input.arbitrary()?,
                agent: input.arbitrary()?,
                nonce: input.arbitrary()?,
                role: input.arbitrary()?,
                capabilities: input.arbitrary()?,
                parent: input.arbitrary()?,
            },
            _ => StepRecipe::Oversized { advance: input.arbitrary()?, signer: input.arbitrary()? },
        })
    }
}

impl<'a> Arbitrary<'a> for BatchRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        // Batches one transfer too long are rare, for the same reason as oversized envelopes.
        Ok(match pick(input, &[99, 1])? {
            0 => BatchRecipe::Transfers(input.arbitrary()?),
            _ => BatchRecipe::OneTooLong(input.arbitrary()?),
        })
    }
}

impl<'a> Arbitrary<'a> for Advance {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[25, 40, 8, 25, 2])? {
            0 => Advance::None,
            1 => Advance::Milliseconds(input.arbitrary()?),
            2 => Advance::Seconds(input.arbitrary()?),
            3 => Advance::Deadline(input.arbitrary()?),
            _ => Advance::LedgerDay,
        })
    }
}

impl<'a> Arbitrary<'a> for SignerRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[70, 30])? {
            0 => SignerRecipe::Agent(input.arbitrary()?),
            _ => SignerRecipe::Operator,
        })
    }
}

impl<'a> Arbitrary<'a> for KeyRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[94, 3, 3])? {
            0 => KeyRecipe::Own,
            1 => KeyRecipe::Wrong,
            _ => KeyRecipe::Pool(input.arbitrary()?),
        })
    }
}

impl<'a> Arbitrary<'a> for NonceRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[88, 4, 3, 4, 1])? {
            0 => NonceRecipe::Next,
            1 => NonceRecipe::Replay,
            2 => NonceRecipe::Skip(input.arbitrary()?),
            3 => NonceRecipe::Old(input.arbitrary()?),
            _ => NonceRecipe::Zero,
        })
    }
}

impl<'a> Arbitrary<'a> for AgentRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[50, 25, 15, 10])? {
            0 => AgentRecipe::Other(input.arbitrary()?),
            1 => AgentRecipe::Pool(input.arbitrary()?),
            2 => AgentRecipe::Child(input.arbitrary()?),
            _ => AgentRecipe::Signer,
        })
    }
}

impl<'a> Arbitrary<'a> for RoleRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[92, 8])? {
            0 => RoleRecipe::Known(input.arbitrary()?),
            _ => RoleRecipe::Unknown,
        })
    }
}

impl<'a> Arbitrary<'a> for CapabilitiesRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[95, 5])? {
            0 => CapabilitiesRecipe::Some(input.arbitrary()?),
            _ => CapabilitiesRecipe::TooMany,
        })
    }
}

impl<'a> Arbitrary<'a> for ReasonRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[60, 25, 10, 5])? {
            0 => ReasonRecipe::Short,
            1 => ReasonRecipe::Empty,
            2 => ReasonRecipe::AtLimit,
            _ => ReasonRecipe::OverLimit,
        })
    }
}

impl<'a> Arbitrary<'a> for ConfigRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[80, 4, 4, 3, 3, 3, 3])? {
            0 => ConfigRecipe::Valid(input.arbitrary()?),
            1 => ConfigRecipe::BadTtl(input.arbitrary()?, input.arbitrary()?),
            2 => ConfigRecipe::NoRoles(input.arbitrary()?),
            3 => ConfigRecipe::ZeroBurst(input.arbitrary()?),
            4 => ConfigRecipe::SlowPace(input.arbitrary()?),
            5 => ConfigRecipe::TooManyRoles(input.arbitrary()?),
            _ => ConfigRecipe::HeavyRole(input.arbitrary()?),
        })
    }
}

impl<'a> Arbitrary<'a> for AmountRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[50, 15, 5, 15, 10, 5])? {
            0 => AmountRecipe::Small(input.arbitrary()?),
            1 => AmountRecipe::Large(input.arbitrary()?),
            2 => AmountRecipe::Zero,
            3 => AmountRecipe::All,
            4 => AmountRecipe::AllPlusOne,
            _ => AmountRecipe::NearMax(input.arbitrary()?),
        })
    }
}

impl<'a> Arbitrary<'a> for TransferIdRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[90, 10])? {
            0 => TransferIdRecipe::Fresh,
            _ => TransferIdRecipe::Last,
        })
    }
}

impl<'a> Arbitrary<'a> for TimeoutRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[30, 40, 15, 5, 10])? {
            0 => TimeoutRecipe::Short(input.arbitrary()?),
            1 => TimeoutRecipe::Long(input.arbitrary()?),
            2 => TimeoutRecipe::Min,
            3 => TimeoutRecipe::Max,
            _ => TimeoutRecipe::Outside(input.arbitrary()?),
        })
    }
}

impl<'a> Arbitrary<'a> for EscrowRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[55, 15, 20, 5, 5])? {
            0 => EscrowRecipe::Party(input.arbitrary()?),
            1 => EscrowRecipe::Open(input.arbitrary()?),
            2 => EscrowRecipe::Recent(input.arbitrary()?),
            3 => EscrowRecipe::Id(input.arbitrary()?),
            _ => EscrowRecipe::Missing,
        })
    }
}

impl<'a> Arbitrary<'a> for PreimageRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[45, 35, 15, 5])? {
            0 => PreimageRecipe::None,
            1 => PreimageRecipe::Secret(input.arbitrary()?),
            2 => PreimageRecipe::Wrong,
            _ => PreimageRecipe::Oversized,
        })
    }
}

impl<'a> Arbitrary<'a> for StreamVariantRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[75, 15, 10])? {
            0 => StreamVariantRecipe::Usual,
            1 => StreamVariantRecipe::Other,
            _ => StreamVariantRecipe::Private,
        })
    }
}

impl<'a> Arbitrary<'a> for ConsumerVariantRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[75, 15, 10])? {
            0 => ConsumerVariantRecipe::Usual,
            1 => ConsumerVariantRecipe::Other,
            _ => ConsumerVariantRecipe::StrayFilter,
        })
    }
}

impl<'a> Arbitrary<'a> for PayloadRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[70, 20, 5, 5])? {
            0 => PayloadRecipe::Json,
            1 => PayloadRecipe::Bytes,
            2 => PayloadRecipe::BadBase64,
            _ => PayloadRecipe::Oversized,
        })
    }
}

impl<'a> Arbitrary<'a> for DeliveryRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[90, 10])? {
            0 => DeliveryRecipe::Held(input.arbitrary()?),
            _ => DeliveryRecipe::Sequence(input.arbitrary()?),
        })
    }
}

impl<'a> Arbitrary<'a> for DeadLetterRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[90, 10])? {
            0 => DeadLetterRecipe::Index(input.arbitrary()?),
            _ => DeadLetterRecipe::Missing,
        })
    }
}
