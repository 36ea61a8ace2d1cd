//! The governance tally against hand-computed tables, the seeds' edge cases, `u64::MAX` weights, and
//! properties checked by brute force over small electorates.

use colony_core::Fraction;
use colony_core::governance::{
    Ballot, Choice, Counts, OptionCredits, OptionPart, Outcome, Quorum, Ratio, TallyError, VoteType, settled_outcome,
    tally,
};
use proptest::prelude::*;

fn ballot(voter: u32, choice: Choice) -> Ballot {
    Ballot { voter, choice }
}

fn fraction(text: &str) -> Fraction {
    Fraction::parse(text).unwrap()
}

fn ratio(numerator: u128, denominator: u128) -> Ratio {
    Ratio::new(numerator, denominator).unwrap()
}

/// Ballots of `choices`, voter `i` casting the `i`-th.
fn ballots(choices: impl IntoIterator<Item = Choice>) -> Vec<Ballot> {
    choices.into_iter().enumerate().map(|(voter, choice)| ballot(voter as u32, choice)).collect()
}

fn yes_no(tally: &colony_core::governance::Tally) -> &colony_core::governance::YesNoCounts {
    match &tally.counts {
        Counts::YesNo(counts) => counts,
        other => panic!("not yes/no counts: {other:?}"),
    }
}

fn totals(tally: &colony_core::governance::Tally) -> &[u128] {
    match &tally.counts {
        Counts::Options(counts) => &counts.totals,
        other => panic!("not option counts: {other:?}"),
    }
}

fn supermajority(threshold: Ratio) -> VoteType {
    VoteType::Supermajority { threshold }
}

// --- Seed 000: plurality, supermajority, consensus ---------------------------------------------------

#[test]
fn two_of_three_fail_at_0_667_and_pass_at_exactly_two_thirds() {
    let votes = ballots([Choice::Yes, Choice::Yes, Choice::No]);
    let seeds_threshold = supermajority(Ratio::from_fraction(fraction("0.667")));
    let at_0_667 = tally(&seeds_threshold, Quorum::Ballots(3), &[1, 1, 1], &votes).unwrap();
    assert_eq!(at_0_667.outcome, Outcome::Rejected, "2/3 = 0.6666… is below 0.667");
    // The rounded share reads 0.667 although it is below the threshold: display never decides.
    assert_eq!(yes_no(&at_0_667).yes_share_three_decimals.as_deref(), Some("0.667"));
    assert_eq!(yes_no(&at_0_667).yes_share, Some(ratio(2, 3)));
    let at_two_thirds = tally(&supermajority(Ratio::TWO_THIRDS), Quorum::Ballots(3), &[1, 1, 1], &votes).unwrap();
    assert_eq!(at_two_thirds.outcome, Outcome::Approved);
    assert_eq!(tally(&VoteType::Plurality, Quorum::None, &[1, 1, 1], &votes).unwrap().outcome, Outcome::Approved);
    assert_eq!(tally(&VoteType::Consensus, Quorum::None, &[1, 1, 1], &votes).unwrap().outcome, Outcome::Rejected);
}

#[test]
fn yes_no_types_against_a_table() {
    // (weights, choices, plurality, supermajority 2/3, consensus)
    use Choice::{Abstain as A, No as N, Yes as Y};
    use Outcome::{Abstained as Ab, Approved as Ap, Rejected as Re};
    type Row = (&'static [u64], Vec<Choice>, Outcome, Outcome, Outcome);
    let table: [Row; 8] = [
        (&[1, 1], vec![Y, N], Re, Re, Re),       // exactly half: not above it
        (&[2, 1], vec![Y, N], Ap, Ap, Re),       // 2/3
        (&[3, 2], vec![Y, N], Ap, Re, Re),       // 3/5
        (&[1, 1, 5], vec![Y, Y, A], Ap, Ap, Ap), // abstentions are outside the share
        (&[1, 1, 5], vec![Y, N, A], Re, Re, Re), // 1/2
        (&[4], vec![A], Ab, Ab, Ab),             // no side taken
        (&[0, 0], vec![Y, N], Ab, Ab, Ab),       // zero weight takes no side
        (&[5, 0], vec![Y, N], Ap, Ap, Ap),       // a zero-weight no leaves the share at one
    ];
    for (weights, choices, plurality, two_thirds, consensus) in table {
        let votes = ballots(choices.clone());
        let outcome = |vote_type: VoteType| tally(&vote_type, Quorum::None, weights, &votes).unwrap().outcome;
        assert_eq!(outcome(VoteType::Plurality), plurality, "plurality of {choices:?} weighing {weights:?}");
        assert_eq!(outcome(supermajority(Ratio::TWO_THIRDS)), two_thirds, "2/3 of {choices:?}");
        assert_eq!(outcome(VoteType::Consensus), consensus, "consensus of {choices:?}");
    }
}

#[test]
fn abstentions_count_toward_the_quorum_but_not_the_share() {
    let votes = ballots([Choice::Yes, Choice::Yes, Choice::No, Choice::Abstain, Choice::Abstain]);
    let result = tally(&VoteType::Plurality, Quorum::Ballots(5), &[1, 1, 1, 1, 1], &votes).unwrap();
    assert_eq!(result.outcome, Outcome::Approved);
    assert_eq!((result.ballots, result.cast_weight, result.eligible_weight), (5, 5, 5));
    let counts = yes_no(&result);
    assert_eq!((counts.yes_weight, counts.no_weight, counts.abstain_weight), (2, 1, 2));
    assert_eq!(counts.yes_share, Some(ratio(2, 3)));
    // One yes and two abstentions reach a quorum of three.
    let quiet = ballots([Choice::Yes, Choice::Abstain, Choice::Abstain]);
    assert_eq!(tally(&VoteType::Plurality, Quorum::Ballots(3), &[1; 4], &quiet).unwrap().outcome, Outcome::Approved);
}

#[test]
fn too_few_ballots_miss_the_quorum_and_no_ballots_abstain() {
    let two = ballots([Choice::Yes, Choice::Yes]);
    let missed = tally(&VoteType::Plurality, Quorum::Ballots(3), &[1, 1, 1, 1], &two).unwrap();
    assert_eq!(missed.outcome, Outcome::NoQuorum);
    assert_eq!(yes_no(&missed).yes_weight, 2, "the counts are reported all the same");
    assert_eq!(tally(&VoteType::Plurality, Quorum::Ballots(3), &[1; 4], &[]).unwrap().outcome, Outcome::NoQuorum);
    let nothing = tally(&VoteType::Plurality, Quorum::None, &[1; 4], &[]).unwrap();
    assert_eq!(nothing.outcome, Outcome::Abstained);
    assert_eq!(yes_no(&nothing).yes_share, None);
    assert_eq!(tally(&VoteType::Consensus, Quorum::Ballots(0), &[], &[]).unwrap().outcome, Outcome::Abstained);
    let all_abstain = ballots([Choice::Abstain, Choice::Abstain, Choice::Abstain]);
    assert_eq!(
        tally(&VoteType::Plurality, Quorum::Ballots(3), &[1; 3], &all_abstain).unwrap().outcome,
        Outcome::Abstained
    );
}

#[test]
fn the_seeds_quorum_is_half_the_electorate_and_at_least_two() {
    for (eligible, quorum) in [(0, 2), (1, 2), (3, 2), (4, 2), (5, 2), (6, 3), (7, 3), (10, 5), (101, 50)] {
        assert_eq!(Quorum::half_of_electorate(eligible), Quorum::Ballots(quorum), "{eligible} eligible");
    }
}

#[test]
fn weight_and_share_quorums_count_cast_weight_and_are_reached_at_equality() {
    let weights = [3, 1, 4];
    let votes = vec![ballot(0, Choice::Yes), ballot(1, Choice::Abstain)];
    let outcome = |quorum| tally(&VoteType::Plurality, quorum, &weights, &votes).unwrap().outcome;
    assert_eq!(outcome(Quorum::Weight(4)), Outcome::Approved);
    assert_eq!(outcome(Quorum::Weight(5)), Outcome::NoQuorum);
    assert_eq!(outcome(Quorum::Share(ratio(1, 2))), Outcome::Approved, "4 of 8 reaches one half");
    assert_eq!(outcome(Quorum::Share(ratio(500_001, 1_000_000))), Outcome::NoQuorum);
    assert!(Quorum::Share(Ratio::ZERO).is_reached(0, 0, 0));
    assert!(!Quorum::Share(ratio(1, 3)).is_reached(0, 0, 0));
}

// --- Seed 001: the absolute yes-weight threshold -----------------------------------------------------

/// Architect 2.5, developer 1.0, security 2.0, auditor 1.5, in millionths.
const SEED_001_ROLES: [u64; 4] = [2_500_000, 1_000_000, 2_000_000, 1_500_000];
const ARCHITECT: u32 = 0;
const SECURITY: u32 = 2;
const AUDITOR: u32 = 3;

#[test]
fn seed_001_approves_when_yes_weight_reaches_four() {
    let rule = VoteType::Threshold { yes_weight: 4_000_000 };
    for (pair, outcome, yes) in [
        ([ARCHITECT, SECURITY], Outcome::Approved, 4_500_000),
        ([ARCHITECT, AUDITOR], Outcome::Approved, 4_000_000),
        ([SECURITY, AUDITOR], Outcome::Rejected, 3_500_000),
    ] {
        let mut votes: Vec<Ballot> = pair.iter().map(|&voter| ballot(voter, Choice::Yes)).collect();
        let result = tally(&rule, Quorum::None, &SEED_001_ROLES, &votes).unwrap();
        assert_eq!(result.outcome, outcome, "{pair:?}");
        assert_eq!(yes_no(&result).yes_weight, yes);
        // The developer's no changes nothing: only the yes weight counts.
        votes.push(ballot(1, Choice::No));
        assert_eq!(tally(&rule, Quorum::None, &SEED_001_ROLES, &votes).unwrap().outcome, outcome, "{pair:?} + no");
    }
}

// --- Seed 004: the weighted ratio --------------------------------------------------------------------

fn approval(result: &colony_core::governance::Tally) -> colony_core::governance::RatioCounts {
    match &result.counts {
        Counts::WeightedRatio(counts) => counts.clone(),
        other => panic!("not ratio counts: {other:?}"),
    }
}

#[test]
fn seed_004_approves_strictly_above_the_required_ratio() {
    let weights = [3, 1];
    let votes = vec![ballot(0, Choice::Value(fraction("0.8"))), ballot(1, Choice::Value(fraction("0.2")))];
    // (3 · 0.8 + 1 · 0.2) / 4 = 0.65
    let at = |required: &str| {
        tally(&VoteType::WeightedRatio { required: fraction(required) }, Quorum::None, &weights, &votes).unwrap()
    };
    let exact = at("0.65");
    assert_eq!(exact.outcome, Outcome::Rejected, "0.65 is not above 0.65");
    let counts = approval(&exact);
    assert_eq!(counts.value_weight, 2_600_000);
    assert_eq!(counts.approval, Some(ratio(65, 100)));
    assert_eq!(counts.approval_three_decimals.as_deref(), Some("0.650"));
    assert_eq!(at("0.649999").outcome, Outcome::Approved);
    // Yes and no are the values one and zero: two of four equal voters is exactly one half.
    let half = ballots([Choice::Yes, Choice::Yes, Choice::No, Choice::No]);
    let rule = VoteType::WeightedRatio { required: fraction("0.5") };
    assert_eq!(tally(&rule, Quorum::None, &[1; 4], &half).unwrap().outcome, Outcome::Rejected);
    let three = ballots([Choice::Yes, Choice::Yes, Choice::Yes, Choice::No]);
    assert_eq!(tally(&rule, Quorum::None, &[1; 4], &three).unwrap().outcome, Outcome::Approved);
}

#[test]
fn seed_004_counts_silence_and_abstention_as_zero_in_the_denominator() {
    let rule = VoteType::WeightedRatio { required: fraction("0.5") };
    // Two yes of four eligible, two silent: 2/4, not 2/2.
    let result = tally(&rule, Quorum::None, &[1, 1, 1, 1], &ballots([Choice::Yes, Choice::Yes])).unwrap();
    assert_eq!(result.outcome, Outcome::Rejected);
    let counts = approval(&result);
    assert_eq!((counts.sided_weight, counts.abstain_weight, counts.silent_weight), (2, 0, 2));
    assert_eq!(counts.approval, Some(Ratio::HALF));
    let abstaining = ballots([Choice::Yes, Choice::Yes, Choice::Abstain, Choice::Abstain]);
    let result = tally(&rule, Quorum::None, &[1; 4], &abstaining).unwrap();
    assert_eq!((result.outcome.clone(), approval(&result).abstain_weight), (Outcome::Rejected, 2));
    // Three yes of four with one silent passes.
    let result = tally(&rule, Quorum::None, &[1; 4], &ballots([Choice::Yes, Choice::Yes, Choice::Yes])).unwrap();
    assert_eq!(result.outcome, Outcome::Approved);
    // Nobody gave a value: abstained, not a division by zero.
    assert_eq!(tally(&rule, Quorum::None, &[1, 1], &ballots([Choice::Abstain])).unwrap().outcome, Outcome::Abstained);
    assert_eq!(tally(&rule, Quorum::None, &[], &[]).unwrap().outcome, Outcome::Abstained);
}

// --- Option votes ------------------------------------------------------------------------------------

#[test]
fn approval_sums_the_weight_approving_each_option() {
    let rule = VoteType::Approval { options: 3 };
    let votes = ballots([Choice::Approve(vec![0, 1]), Choice::Approve(vec![1]), Choice::Approve(vec![2])]);
    let result = tally(&rule, Quorum::None, &[2, 3, 4], &votes).unwrap();
    assert_eq!(totals(&result), [2, 5, 4]);
    assert_eq!(result.outcome, Outcome::Winner { option: 1 });
    let tied = tally(&rule, Quorum::None, &[2, 3, 5], &votes).unwrap();
    assert_eq!(totals(&tied), [2, 5, 5]);
    assert_eq!(tied.outcome, Outcome::Tie { options: vec![1, 2] });
    let empty = ballots([Choice::Approve(vec![]), Choice::Abstain]);
    assert_eq!(tally(&rule, Quorum::Ballots(2), &[2, 3], &empty).unwrap().outcome, Outcome::Abstained);
}

#[test]
fn quadratic_votes_are_the_floor_of_the_root_of_the_credits() {
    let rule = VoteType::Quadratic { options: 2, budget: 25 };
    let spend = |pairs: &[(u32, u64)]| {
        Choice::Credits(pairs.iter().map(|&(option, credits)| OptionCredits { option, credits }).collect())
    };
    // Voter 0 (weight 1): 9 credits → 3 votes, 16 → 4. Voter 1 (weight 2): 15 → 3, 10 → 3.
    let votes = ballots([spend(&[(0, 9), (1, 16)]), spend(&[(0, 15), (1, 10)])]);
    let result = tally(&rule, Quorum::None, &[1, 2], &votes).unwrap();
    assert_eq!(totals(&result), [3 + 6, 4 + 6]);
    assert_eq!(result.outcome, Outcome::Winner { option: 1 });
    let over = ballots([spend(&[(0, 16), (1, 10)])]);
    assert_eq!(
        tally(&rule, Quorum::None, &[1], &over),
        Err(TallyError::CreditsOverBudget { voter: 0, credits: 26, budget: 25 })
    );
    let few = ballots([spend(&[(0, 3)]), spend(&[(1, 0)])]);
    assert_eq!(totals(&tally(&rule, Quorum::None, &[1, 1], &few).unwrap()), [1, 0]);
}

#[test]
fn weighted_split_totals_are_weight_times_millionths() {
    let rule = VoteType::WeightedSplit { options: 3 };
    let split = |parts: &[(u32, &str)]| {
        Choice::Split(parts.iter().map(|&(option, part)| OptionPart { option, part: fraction(part) }).collect())
    };
    let votes = ballots([split(&[(0, "0.5"), (1, "0.5")]), split(&[(1, "0.25"), (2, "0.75")])]);
    let result = tally(&rule, Quorum::None, &[2, 1], &votes).unwrap();
    assert_eq!(totals(&result), [1_000_000, 1_250_000, 750_000]);
    assert_eq!(result.outcome, Outcome::Winner { option: 1 });
    assert_eq!(
        tally(&rule, Quorum::None, &[1], &ballots([split(&[(0, "0.5"), (1, "0.4")])])),
        Err(TallyError::SplitNotWhole { voter: 0, micros: 900_000 })
    );
    assert_eq!(
        tally(&rule, Quorum::None, &[1], &ballots([split(&[(0, "1"), (1, "0.000001")])])),
        Err(TallyError::SplitNotWhole { voter: 0, micros: 1_000_001 })
    );
}

// --- Ranked choice -----------------------------------------------------------------------------------

/// Ballots ranking as `groups` says: `(n, ranking)` is `n` voters with that ranking.
fn ranked(groups: &[(usize, &[u32])]) -> Vec<Ballot> {
    ballots(groups.iter().flat_map(|&(count, ranking)| std::iter::repeat_n(Choice::Rank(ranking.to_vec()), count)))
}

/// A round as (option and weight of each continuing option, exhausted weight, option eliminated).
type RoundRow = (Vec<(u32, u128)>, u128, Option<u32>);

fn rounds(result: &colony_core::governance::Tally) -> Vec<RoundRow> {
    let Counts::Ranked(counts) = &result.counts else { panic!("not ranked counts") };
    counts
        .rounds
        .iter()
        .map(|round| {
            let counts = round.counts.iter().map(|count| (count.option, count.weight)).collect();
            (counts, round.exhausted_weight, round.eliminated)
        })
        .collect()
}

#[test]
fn instant_runoff_transfers_the_eliminated_options_ballots() {
    let (a, b, c) = (0, 1, 2);
    let table = [(4, &[a, b][..]), (3, &[b, c]), (2, &[c, b])];
    let result = tally(&VoteType::RankedChoice { options: 3 }, Quorum::None, &[1; 9], &ranked(&table)).unwrap();
    assert_eq!(result.outcome, Outcome::Winner { option: b });
    assert_eq!(rounds(&result), vec![(vec![(a, 4), (b, 3), (c, 2)], 0, Some(c)), (vec![(a, 4), (b, 5)], 0, None)]);
}

#[test]
fn instant_runoff_breaks_elimination_ties_by_earlier_rounds_and_drops_exhausted_ballots() {
    let (a, b, c, d) = (0, 1, 2, 3);
    let table = [(4, &[a][..]), (2, &[b]), (3, &[c]), (1, &[d, b])];
    let result = tally(&VoteType::RankedChoice { options: 4 }, Quorum::None, &[1; 10], &ranked(&table)).unwrap();
    // Round 2 ties b and c at 3; b had fewer in round 1, so b goes although c has the higher number.
    // Round 3: b's ballots rank nothing else and are exhausted; a has 4 of the 7 left.
    assert_eq!(
        rounds(&result),
        vec![
            (vec![(a, 4), (b, 2), (c, 3), (d, 1)], 0, Some(d)),
            (vec![(a, 4), (b, 3), (c, 3)], 0, Some(b)),
            (vec![(a, 4), (c, 3)], 3, None),
        ]
    );
    assert_eq!(result.outcome, Outcome::Winner { option: a });
}

#[test]
fn instant_runoff_eliminates_the_highest_number_among_options_equal_in_every_round() {
    let table = [(2, &[0][..]), (2, &[1]), (1, &[2]), (1, &[3])];
    let result = tally(&VoteType::RankedChoice { options: 4 }, Quorum::None, &[1; 6], &ranked(&table)).unwrap();
    let eliminated: Vec<Option<u32>> = rounds(&result).into_iter().map(|round| round.2).collect();
    assert_eq!(eliminated, vec![Some(3), Some(2), None]);
    // 0 and 1 are equal in every round: no count separates them.
    assert_eq!(result.outcome, Outcome::Tie { options: vec![0, 1] });
}

#[test]
fn instant_runoff_with_no_ranked_weight_abstains() {
    let votes = vec![ballot(0, Choice::Abstain), ballot(1, Choice::Rank(vec![]))];
    let result = tally(&VoteType::RankedChoice { options: 2 }, Quorum::None, &[1, 1], &votes).unwrap();
    assert_eq!(result.outcome, Outcome::Abstained);
    assert_eq!(rounds(&result), vec![(vec![(0, 0), (1, 0)], 1, None)]);
}

// --- Malformed ballots -------------------------------------------------------------------------------

#[test]
fn malformed_ballots_are_refused_with_stable_codes() {
    let ranked_type = VoteType::RankedChoice { options: 3 };
    let cases: Vec<(VoteType, Vec<Ballot>, TallyError, &str)> = vec![
        (VoteType::Plurality, vec![ballot(5, Choice::Yes)], TallyError::UnknownVoter { voter: 5 }, "unknown_voter"),
        (
            VoteType::Plurality,
            vec![ballot(1, Choice::Yes), ballot(1, Choice::No)],
            TallyError::DuplicateVoter { voter: 1 },
            "duplicate_voter",
        ),
        (
            VoteType::Plurality,
            vec![ballot(0, Choice::Value(Fraction::ONE))],
            TallyError::WrongChoice { voter: 0 },
            "wrong_choice",
        ),
        (ranked_type.clone(), vec![ballot(2, Choice::Yes)], TallyError::WrongChoice { voter: 2 }, "wrong_choice"),
        (
            ranked_type.clone(),
            vec![ballot(0, Choice::Rank(vec![2, 0, 2]))],
            TallyError::DuplicateOption { voter: 0, option: 2 },
            "duplicate_option",
        ),
        (
            ranked_type,
            vec![ballot(0, Choice::Rank(vec![3]))],
            TallyError::UnknownOption { voter: 0, option: 3 },
            "unknown_option",
        ),
        (VoteType::Approval { options: 0 }, vec![], TallyError::OptionCount { options: 0 }, "option_count"),
        (VoteType::WeightedSplit { options: 257 }, vec![], TallyError::OptionCount { options: 257 }, "option_count"),
        (
            VoteType::WeightedRatio { required: Fraction::ZERO },
            vec![ballot(0, Choice::Approve(vec![]))],
            TallyError::WrongChoice { voter: 0 },
            "wrong_choice",
        ),
    ];
    for (vote_type, votes, error, code) in cases {
        let refused = tally(&vote_type, Quorum::None, &[1, 1, 1], &votes).unwrap_err();
        assert_eq!(refused, error, "{vote_type:?}");
        assert_eq!(refused.code(), code);
        assert_eq!(serde_json::to_value(&refused).unwrap()["code"], code);
    }
    assert!(tally(&VoteType::Approval { options: 256 }, Quorum::None, &[1], &[]).is_ok());
}

// --- Exactness at the extremes -----------------------------------------------------------------------

#[test]
fn u64_max_weights_neither_overflow_nor_round() {
    let heavy = vec![u64::MAX; 1_001];
    let mut votes: Vec<Ballot> = (0..500).map(|voter| ballot(voter, Choice::Yes)).collect();
    votes.extend((500..1_000).map(|voter| ballot(voter, Choice::No)));
    let even = tally(&VoteType::Plurality, Quorum::Share(ratio(1_000, 1_001)), &heavy, &votes).unwrap();
    assert_eq!(even.outcome, Outcome::Rejected, "exactly one half");
    assert_eq!(yes_no(&even).yes_weight, 500 * u128::from(u64::MAX));
    votes.push(ballot(1_000, Choice::Yes));
    assert_eq!(tally(&VoteType::Plurality, Quorum::None, &heavy, &votes).unwrap().outcome, Outcome::Approved);
    let threshold = VoteType::Threshold { yes_weight: u64::MAX };
    assert_eq!(tally(&threshold, Quorum::Weight(u64::MAX), &heavy, &votes).unwrap().outcome, Outcome::Approved);

    let values = ballots([Choice::Value(Fraction::ONE), Choice::Value(fraction("0.999999"))]);
    let rule = VoteType::WeightedRatio { required: fraction("0.999999") };
    let result = tally(&rule, Quorum::None, &[u64::MAX, u64::MAX], &values).unwrap();
    assert_eq!(result.outcome, Outcome::Approved, "0.9999995 is above 0.999999");
    assert_eq!(approval(&result).approval_three_decimals.as_deref(), Some("1.000"));

    let spend = Choice::Credits(vec![OptionCredits { option: 0, credits: u64::MAX }]);
    let quadratic = VoteType::Quadratic { options: 1, budget: u64::MAX };
    let result = tally(&quadratic, Quorum::None, &[u64::MAX], &ballots([spend])).unwrap();
    assert_eq!(totals(&result), [u128::from(u64::MAX.isqrt()) * u128::from(u64::MAX)]);
    let too_much =
        Choice::Credits(vec![OptionCredits { option: 0, credits: u64::MAX }, OptionCredits { option: 1, credits: 1 }]);
    let two = VoteType::Quadratic { options: 2, budget: u64::MAX };
    assert_eq!(
        tally(&two, Quorum::None, &[1], &ballots([too_much])),
        Err(TallyError::CreditsOverBudget { voter: 0, credits: u128::from(u64::MAX) + 1, budget: u64::MAX })
    );
    let split = Choice::Split(vec![OptionPart { option: 0, part: Fraction::ONE }]);
    let result = tally(&VoteType::WeightedSplit { options: 1 }, Quorum::None, &[u64::MAX], &ballots([split])).unwrap();
    assert_eq!(totals(&result), [u128::from(u64::MAX) * 1_000_000]);
}

#[test]
fn three_decimals_round_half_up_on_the_exact_ratio() {
    for (numerator, denominator, text) in [
        (2, 3, "0.667"),
        (1, 3, "0.333"),
        (1, 8, "0.125"),
        (1, 2000, "0.001"),
        (1, 2001, "0.000"),
        (1333, 2000, "0.667"),
        (1_332_999, 2_000_000, "0.666"),
        (0, 5, "0.000"),
        (1999, 2000, "1.000"),
        (3997, 4000, "0.999"),
        (7, 7, "1.000"),
        (u128::MAX - 1, u128::MAX, "1.000"),
        (u128::MAX / 3, u128::MAX, "0.333"),
    ] {
        assert_eq!(ratio(numerator, denominator).three_decimals(), text, "{numerator}/{denominator}");
    }
}

#[test]
fn tallies_and_vote_types_read_back_from_json() {
    let votes = ballots([Choice::Yes, Choice::No, Choice::Yes]);
    let result = tally(&supermajority(Ratio::TWO_THIRDS), Quorum::Ballots(3), &[1, 1, 1], &votes).unwrap();
    let text = serde_json::to_string(&result).unwrap();
    assert_eq!(serde_json::from_str::<colony_core::governance::Tally>(&text).unwrap(), result);
    let vote_type: VoteType =
        serde_json::from_str(r#"{"supermajority":{"threshold":{"numerator":"2","denominator":"3"}}}"#).unwrap();
    assert_eq!(vote_type, supermajority(Ratio::TWO_THIRDS));
    assert!(serde_json::from_str::<Ratio>(r#"{"numerator":"3","denominator":"2"}"#).is_err());
    assert!(serde_json::from_str::<Ratio>(r#"{"numerator":"0","denominator":"0"}"#).is_err());
    assert!(serde_json::from_str::<Ratio>(r#"{"numerator":"01","denominator":"2"}"#).is_err());
    // Counts are decimal strings: sums of weights pass 2^53.
    let json = serde_json::to_value(&result).unwrap();
    assert_eq!(json["counts"]["yes_no"]["yes_weight"], "2");
    assert_eq!(json["outcome"], "approved");
    let heavy = tally(
        &VoteType::Approval { options: 1 },
        Quorum::None,
        &[u64::MAX, u64::MAX],
        &ballots([Choice::Approve(vec![0]), Choice::Approve(vec![0])]),
    )
    .unwrap();
    let json = serde_json::to_value(&heavy).unwrap();
    assert_eq!(json["counts"]["options"]["totals"][0], (2 * u128::from(u64::MAX)).to_string());
    assert_eq!(serde_json::from_value::<colony_core::governance::Tally>(json).unwrap(), heavy);
    let tie = serde_json::to_value(Outcome::Tie { options: vec![0, 2] }).unwrap();
    assert_eq!(tie, serde_json::json!({"tie": {"options": [0, 2]}}));
}

#[test]
fn vote_types_ballots_and_tallies_read_back_from_postcard() {
    let vote_types = [
        VoteType::Plurality,
        supermajority(Ratio::TWO_THIRDS),
        VoteType::Threshold { yes_weight: 4_000_000 },
        VoteType::WeightedRatio { required: fraction("0.6") },
        VoteType::Quadratic { options: 3, budget: 100 },
        VoteType::RankedChoice { options: 3 },
    ];
    for vote_type in vote_types {
        let bytes = postcard::to_stdvec(&vote_type).unwrap();
        assert_eq!(postcard::from_bytes::<VoteType>(&bytes).unwrap(), vote_type);
    }
    let quorum = Quorum::Share(ratio(u128::MAX - 1, u128::MAX));
    assert_eq!(postcard::from_bytes::<Quorum>(&postcard::to_stdvec(&quorum).unwrap()).unwrap(), quorum);
    let votes = ranked(&[(2, &[0, 1]), (2, &[1]), (1, &[2, 1])]);
    let bytes = postcard::to_stdvec(&votes).unwrap();
    assert_eq!(postcard::from_bytes::<Vec<Ballot>>(&bytes).unwrap(), votes);
    let result = tally(&VoteType::RankedChoice { options: 3 }, Quorum::None, &[u64::MAX; 5], &votes).unwrap();
    assert_eq!(result.outcome, Outcome::Winner { option: 1 });
    let bytes = postcard::to_stdvec(&result).unwrap();
    assert_eq!(postcard::from_bytes::<colony_core::governance::Tally>(&bytes).unwrap(), result);
    let choice: Choice =
        serde_json::from_str(r#"{"split":[{"option":1,"part":"0.5"},{"option":0,"part":"0.5"}]}"#).unwrap();
    assert!(matches!(choice, Choice::Split(parts) if parts.len() == 2));
}

// --- Closing early -----------------------------------------------------------------------------------

#[test]
fn seed_001_settles_once_the_yes_weight_is_reached_or_out_of_reach() {
    let rule = VoteType::Threshold { yes_weight: 4_000_000 };
    let settled = |votes: &[Ballot]| settled_outcome(&rule, Quorum::None, &SEED_001_ROLES, votes).unwrap();
    assert_eq!(settled(&[ballot(ARCHITECT, Choice::Yes), ballot(SECURITY, Choice::Yes)]), Some(Outcome::Approved));
    assert_eq!(settled(&[ballot(ARCHITECT, Choice::Yes)]), None, "2.5 with 4.5 still to vote");
    let noes = [ballot(ARCHITECT, Choice::No), ballot(SECURITY, Choice::No)];
    assert_eq!(settled(&noes), Some(Outcome::Rejected), "1.0 + 1.5 can no longer reach 4.0");
    assert_eq!(settled(&[]), None);
}

#[test]
fn option_votes_never_settle_early_and_quorum_keeps_votes_open() {
    let votes = ballots([Choice::Approve(vec![0])]);
    assert_eq!(settled_outcome(&VoteType::Approval { options: 2 }, Quorum::None, &[1], &votes).unwrap(), None);
    // Three of five voted yes; a quorum of four is still reachable, so silence could still miss it.
    let three = ballots([Choice::Yes, Choice::Yes, Choice::Yes]);
    assert_eq!(settled_outcome(&VoteType::Plurality, Quorum::Ballots(4), &[1; 5], &three).unwrap(), None);
    assert_eq!(
        settled_outcome(&VoteType::Plurality, Quorum::Ballots(3), &[1; 5], &three).unwrap(),
        Some(Outcome::Approved)
    );
    assert_eq!(
        settled_outcome(&VoteType::Plurality, Quorum::Ballots(6), &[1; 5], &three).unwrap(),
        Some(Outcome::NoQuorum)
    );
}

// --- Properties --------------------------------------------------------------------------------------

/// The yes/no types and the weighted ratio over small parameters.
fn settleable_type() -> impl Strategy<Value = VoteType> {
    prop_oneof![
        Just(VoteType::Plurality),
        (0u128..=4, 1u128..=4)
            .prop_map(|(numerator, denominator)| supermajority(ratio(numerator.min(denominator), denominator))),
        Just(VoteType::Consensus),
        (0u64..10).prop_map(|yes_weight| VoteType::Threshold { yes_weight }),
        prop::sample::select(vec![0u32, 250_000, 333_333, 500_000, 750_000, 1_000_000])
            .prop_map(|micros| VoteType::WeightedRatio { required: Fraction::from_micros(micros).unwrap() }),
    ]
}

fn small_quorum() -> impl Strategy<Value = Quorum> {
    prop_oneof![
        Just(Quorum::None),
        (0u32..6).prop_map(Quorum::Ballots),
        (0u64..14).prop_map(Quorum::Weight),
        (0u128..=3, 1u128..=3)
            .prop_map(|(numerator, denominator)| Quorum::Share(ratio(numerator.min(denominator), denominator))),
    ]
}

/// Every ballot a voter could cast in `vote_type` for the brute force; `None` is staying silent.
/// The values 0 and 1 are the extremes, one half a value between.
fn possible_choices(vote_type: &VoteType) -> Vec<Option<Choice>> {
    let mut choices = vec![None, Some(Choice::Yes), Some(Choice::No), Some(Choice::Abstain)];
    if matches!(vote_type, VoteType::WeightedRatio { .. }) {
        choices.push(Some(Choice::Value(fraction("0.5"))));
        choices.push(Some(Choice::Value(fraction("0.3"))));
    }
    choices
}

/// Every outcome any completion of `votes` by the voters who have not voted could give.
fn outcomes_of_completions(vote_type: &VoteType, quorum: Quorum, eligible: &[u64], votes: &[Ballot]) -> Vec<Outcome> {
    let silent: Vec<u32> =
        (0..eligible.len() as u32).filter(|voter| votes.iter().all(|ballot| ballot.voter != *voter)).collect();
    let choices = possible_choices(vote_type);
    let mut outcomes = Vec::new();
    let completions = choices.len().pow(silent.len() as u32);
    for mut code in 0..completions {
        let mut completed = votes.to_vec();
        for &voter in &silent {
            if let Some(choice) = &choices[code % choices.len()] {
                completed.push(ballot(voter, choice.clone()));
            }
            code /= choices.len();
        }
        let outcome = tally(vote_type, quorum, eligible, &completed).unwrap().outcome;
        if !outcomes.contains(&outcome) {
            outcomes.push(outcome);
        }
    }
    outcomes
}

/// A small electorate and a random part of it having voted yes, no, abstain (or a value).
fn small_vote() -> impl Strategy<Value = (VoteType, Quorum, Vec<u64>, Vec<Ballot>)> {
    (settleable_type(), small_quorum(), prop::collection::vec(0u64..5, 0..=5))
        .prop_flat_map(|(vote_type, quorum, eligible)| {
            let choices = possible_choices(&vote_type);
            let picks = prop::collection::vec(prop::sample::select(choices), eligible.len());
            (Just(vote_type), Just(quorum), Just(eligible), picks)
        })
        .prop_map(|(vote_type, quorum, eligible, picks)| {
            let votes = picks
                .into_iter()
                .enumerate()
                .filter_map(|(voter, choice)| choice.map(|choice| ballot(voter as u32, choice)))
                .collect();
            (vote_type, quorum, eligible, votes)
        })
}

/// Any vote type with ballots of its shape (and some abstentions) from an electorate of up to 7.
fn any_vote() -> impl Strategy<Value = (VoteType, Vec<u64>, Vec<Ballot>)> {
    let options = 1u32..5;
    vote_of(prop_oneof![
        settleable_type(),
        options.clone().prop_map(|options| VoteType::Approval { options }),
        (options.clone(), 0u64..40).prop_map(|(options, budget)| VoteType::Quadratic { options, budget }),
        options.clone().prop_map(|options| VoteType::RankedChoice { options }),
        options.prop_map(|options| VoteType::WeightedSplit { options }),
    ])
}

/// A round of [`recounted_runoff`]: each continuing option with its weight, the exhausted weight,
/// the option eliminated.
type RecountedRound = (Vec<(u32, u128)>, u128, Option<u32>);

/// Instant runoff the slow way: every round recounts every ballot for its first continuing option.
/// Ties for elimination: least this round, then least in each earlier round (latest first), then the
/// highest-numbered; options equal in every round and making up all that continue tie.
fn recounted_runoff(options: usize, eligible: &[u64], votes: &[Ballot]) -> (Outcome, Vec<RecountedRound>) {
    let mut continuing = vec![true; options];
    let mut history: Vec<Vec<u128>> = Vec::new();
    let mut rounds = Vec::new();
    loop {
        let mut weights = vec![0u128; options];
        let mut exhausted = 0u128;
        for vote in votes {
            let Choice::Rank(ranking) = &vote.choice else { continue };
            let weight = u128::from(eligible[vote.voter as usize]);
            match ranking.iter().find(|&&option| continuing[option as usize]) {
                Some(&option) => weights[option as usize] += weight,
                None => exhausted += weight,
            }
        }
        let alive: Vec<usize> = (0..options).filter(|&option| continuing[option]).collect();
        let shown: Vec<(u32, u128)> = alive.iter().map(|&option| (option as u32, weights[option])).collect();
        let total: u128 = alive.iter().map(|&option| weights[option]).sum();
        if total == 0 {
            rounds.push((shown, exhausted, None));
            return (Outcome::Abstained, rounds);
        }
        if let Some(&winner) = alive.iter().find(|&&option| 2 * weights[option] > total) {
            rounds.push((shown, exhausted, None));
            return (Outcome::Winner { option: winner as u32 }, rounds);
        }
        let mut tied: Vec<usize> = alive.clone();
        for round in std::iter::once(&weights).chain(history.iter().rev()) {
            let least = tied.iter().map(|&option| round[option]).min().unwrap();
            tied.retain(|&option| round[option] == least);
        }
        if tied.len() == alive.len() {
            rounds.push((shown, exhausted, None));
            return (Outcome::Tie { options: alive.iter().map(|&option| option as u32).collect() }, rounds);
        }
        let eliminated = *tied.last().unwrap();
        rounds.push((shown, exhausted, Some(eliminated as u32)));
        continuing[eliminated] = false;
        history.push(weights);
    }
}

/// A ranked-choice vote of up to 5 options with ballots from an electorate of up to 7.
fn ranked_vote() -> impl Strategy<Value = (VoteType, Vec<u64>, Vec<Ballot>)> {
    vote_of((1u32..6).prop_map(|options| VoteType::RankedChoice { options }))
}

/// A vote of a type from `vote_type`, every voter casting a well-formed ballot.
fn vote_of(vote_type: impl Strategy<Value = VoteType>) -> impl Strategy<Value = (VoteType, Vec<u64>, Vec<Ballot>)> {
    (vote_type, prop::collection::vec(prop_oneof![0u64..6, Just(u64::MAX)], 0..=7))
        .prop_flat_map(|(vote_type, eligible)| {
            let shapes = prop::collection::vec(valid_choice(vote_type.clone()), eligible.len());
            (Just(vote_type), Just(eligible), shapes)
        })
        .prop_map(|(vote_type, eligible, choices)| (vote_type, eligible, ballots(choices)))
}

/// A well-formed choice for `vote_type`.
fn valid_choice(vote_type: VoteType) -> BoxedStrategy<Choice> {
    let abstain = Just(Choice::Abstain);
    match vote_type {
        VoteType::Approval { options } => prop_oneof![
            1 => abstain,
            4 => prop::sample::subsequence((0..options).collect::<Vec<_>>(), 0..=options as usize)
                .prop_map(Choice::Approve),
        ]
        .boxed(),
        VoteType::RankedChoice { options } => prop_oneof![
            1 => abstain,
            4 => prop::sample::subsequence((0..options).collect::<Vec<_>>(), 0..=options as usize)
                .prop_shuffle()
                .prop_map(Choice::Rank),
        ]
        .boxed(),
        VoteType::Quadratic { options, budget } => {
            prop::collection::vec(0..=budget / u64::from(options), options as usize)
                .prop_map(|credits| {
                    Choice::Credits(
                        credits
                            .into_iter()
                            .enumerate()
                            .map(|(option, credits)| OptionCredits { option: option as u32, credits })
                            .collect(),
                    )
                })
                .boxed()
        }
        VoteType::WeightedSplit { options } => prop::collection::vec(0u32..=1_000_000, options as usize - 1)
            .prop_map(move |mut cuts| {
                // Cut [0, 1] at sorted points: the pieces sum to exactly one.
                cuts.sort_unstable();
                cuts.push(1_000_000);
                let mut previous = 0;
                let parts = cuts.into_iter().enumerate().map(|(option, cut)| {
                    let part = Fraction::from_micros(cut - previous).unwrap();
                    previous = cut;
                    OptionPart { option: option as u32, part }
                });
                Choice::Split(parts.collect())
            })
            .boxed(),
        VoteType::WeightedRatio { .. } => prop_oneof![
            Just(Choice::Yes),
            Just(Choice::No),
            abstain,
            (0u32..=1_000_000).prop_map(|micros| Choice::Value(Fraction::from_micros(micros).unwrap())),
        ]
        .boxed(),
        _ => prop_oneof![Just(Choice::Yes), Just(Choice::No), abstain].boxed(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Closing early is exact: settled exactly when every completion gives the same outcome, and then
    /// that outcome is the one the tally gives now.
    #[test]
    fn settled_exactly_when_no_completion_changes_the_outcome((vote_type, quorum, eligible, votes) in small_vote()) {
        let outcomes = outcomes_of_completions(&vote_type, quorum, &eligible, &votes);
        let settled = settled_outcome(&vote_type, quorum, &eligible, &votes).unwrap();
        let now = tally(&vote_type, quorum, &eligible, &votes).unwrap().outcome;
        prop_assert!(outcomes.contains(&now), "staying silent is a completion");
        match settled {
            Some(outcome) => prop_assert_eq!(&outcomes, &vec![outcome]),
            None => prop_assert!(outcomes.len() > 1, "unsettled, yet every completion gives {:?}", outcomes),
        }
    }

    /// The yes/no types agree with the rules written in plain integer arithmetic.
    #[test]
    fn yes_no_rules_match_integer_arithmetic(yes in 0u64..1_000, no in 0u64..1_000, threshold in 0u64..1_500) {
        let votes = vec![ballot(0, Choice::Yes), ballot(1, Choice::No)];
        let weights = [yes, no];
        let outcome = |vote_type: VoteType| tally(&vote_type, Quorum::None, &weights, &votes).unwrap().outcome;
        let decide = |approved: bool| {
            if yes + no == 0 { Outcome::Abstained } else if approved { Outcome::Approved } else { Outcome::Rejected }
        };
        prop_assert_eq!(outcome(VoteType::Plurality), decide(2 * yes > yes + no));
        prop_assert_eq!(outcome(supermajority(Ratio::TWO_THIRDS)), decide(3 * yes >= 2 * (yes + no)));
        let seeds = supermajority(Ratio::from_fraction(fraction("0.667")));
        prop_assert_eq!(outcome(seeds), decide(1_000 * yes >= 667 * (yes + no)));
        prop_assert_eq!(outcome(VoteType::Consensus), decide(no == 0));
        prop_assert_eq!(outcome(VoteType::Threshold { yes_weight: threshold }), decide(yes >= threshold));
    }

    /// Shares render as the exact ratio rounded half up: `floor((2000·n + d) / 2d)`.
    #[test]
    fn three_decimals_match_integer_rounding(denominator in 1u64..=u64::MAX, numerator in any::<u64>()) {
        let numerator = numerator % (denominator + 1).max(1);
        let (numerator, denominator) = (u128::from(numerator.min(denominator)), u128::from(denominator));
        let expected = (2_000 * numerator + denominator) / (2 * denominator);
        prop_assert_eq!(u128::from(ratio(numerator, denominator).thousandths_half_up()), expected);
    }

    /// Ratios order as their cross products (computed here in u128, where they fit).
    #[test]
    fn ratios_order_as_cross_products(a in any::<u64>(), b in 1u64.., c in any::<u64>(), d in 1u64..) {
        let (a, c) = (a.min(b), c.min(d));
        let (a, b, c, d) = (u128::from(a), u128::from(b), u128::from(c), u128::from(d));
        prop_assert_eq!(ratio(a, b).cmp(&ratio(c, d)), (a * d).cmp(&(c * b)));
    }

    /// Neither the counts nor the outcome depend on the order of the ballots.
    #[test]
    fn the_order_of_ballots_does_not_matter((vote_type, eligible, votes) in any_vote(), seed in any::<u64>()) {
        let mut shuffled = votes.clone();
        // A deterministic shuffle from the seed (rotation then reversal of halves).
        if !shuffled.is_empty() {
            let length = shuffled.len();
            shuffled.rotate_left((seed as usize) % length);
            let middle = (seed as usize / 7) % length;
            shuffled[..middle].reverse();
        }
        let quorum = Quorum::Ballots(2);
        prop_assert_eq!(tally(&vote_type, quorum, &eligible, &votes), tally(&vote_type, quorum, &eligible, &shuffled));
    }

    /// The runoff, which moves only the eliminated option's ballots each round, gives exactly the
    /// rounds and outcome of a recount of every ballot in every round.
    #[test]
    fn runoff_equals_a_full_recount_each_round((vote_type, eligible, votes) in ranked_vote()) {
        let VoteType::RankedChoice { options } = vote_type else { unreachable!("a ranked vote") };
        let result = tally(&vote_type, Quorum::None, &eligible, &votes).unwrap();
        let Counts::Ranked(counts) = &result.counts else { panic!("ranked counts") };
        let (outcome, rounds) = recounted_runoff(options as usize, &eligible, &votes);
        prop_assert_eq!(&result.outcome, &outcome);
        let reported: Vec<RecountedRound> = counts
            .rounds
            .iter()
            .map(|round| {
                let weights = round.counts.iter().map(|count| (count.option, count.weight)).collect();
                (weights, round.exhausted_weight, round.eliminated)
            })
            .collect();
        prop_assert_eq!(reported, rounds);
    }

    /// An instant-runoff winner holds a strict majority of its last round; a tie is of options equal
    /// in it; each round's weight plus the exhausted weight is all the ranked weight.
    #[test]
    fn runoff_winners_hold_a_majority_of_the_last_round((vote_type, eligible, votes) in ranked_vote()) {
        let result = tally(&vote_type, Quorum::None, &eligible, &votes).unwrap();
        let Counts::Ranked(counts) = &result.counts else { panic!("ranked counts") };
        let ranked_weight: u128 = votes
            .iter()
            .filter(|ballot| matches!(ballot.choice, Choice::Rank(_)))
            .map(|ballot| u128::from(eligible[ballot.voter as usize]))
            .sum();
        for round in &counts.rounds {
            let total: u128 = round.counts.iter().map(|count| count.weight).sum();
            prop_assert_eq!(total + round.exhausted_weight, ranked_weight);
        }
        let last = counts.rounds.last().unwrap();
        let total: u128 = last.counts.iter().map(|count| count.weight).sum();
        match &result.outcome {
            Outcome::Winner { option } => {
                let winner = last.counts.iter().find(|count| count.option == *option).unwrap();
                prop_assert!(2 * winner.weight > total);
            }
            Outcome::Tie { options } => {
                prop_assert_eq!(options.len(), last.counts.len());
                prop_assert!(last.counts.iter().all(|count| count.weight == last.counts[0].weight));
            }
            Outcome::Abstained => prop_assert_eq!(total, 0),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    /// Quadratic totals are the weighted floor roots, checked by counting up.
    #[test]
    fn quadratic_votes_are_floor_roots(credits in 0u64..2_000, weight in 0u64..1_000) {
        let rule = VoteType::Quadratic { options: 1, budget: 2_000 };
        let spend = Choice::Credits(vec![OptionCredits { option: 0, credits }]);
        let result = tally(&rule, Quorum::None, &[weight], &ballots([spend])).unwrap();
        let mut root = 0u64;
        while (root + 1) * (root + 1) <= credits {
            root += 1;
        }
        prop_assert_eq!(totals(&result), &[u128::from(root) * u128::from(weight)][..]);
    }
}

#[test]
fn schemas_describe_counts_as_strings() {
    let schema = serde_json::to_value(schemars::schema_for!(colony_core::governance::Tally)).unwrap();
    assert_eq!(schema["properties"]["cast_weight"]["type"], "string");
    let ratio = serde_json::to_value(schemars::schema_for!(Ratio)).unwrap();
    assert_eq!(ratio["properties"]["numerator"]["type"], "string");
    assert_eq!(ratio["required"], serde_json::json!(["numerator", "denominator"]));
    let vote_type = serde_json::to_value(schemars::schema_for!(VoteType)).unwrap();
    assert!(vote_type.to_string().contains("supermajority"));
}
