//! Every code the server can answer with is documented in the README's table of codes, with the
//! status it is answered with.

use std::collections::BTreeMap;

use colony_core::rejection_samples::rejection_samples;
use colony_wire::problem::{ServerCode, status_for_rejection};

const README: &str = include_str!("../../../README.md");

/// The header of the README's table of codes.
const TABLE_HEADER: &str = "| code | HTTP status | when |";

/// Codes whose status is not one number. A failed linked batch is answered with the status of the
/// transfer that failed it, so the table says so in words.
const STATUS_OF_THE_CAUSE: &[&str] = &["batch_failed"];

/// The rows of the table: code, status cell and the cell saying when.
fn documented_rows() -> Vec<(String, String, String)> {
    let table = README.split_once(TABLE_HEADER).expect("the README has a table of codes").1;
    table
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 3, "a row of three cells: {line}");
            let code = cells[0].strip_prefix('`').and_then(|code| code.strip_suffix('`'));
            let code = code.unwrap_or_else(|| panic!("a code in backquotes: {line}"));
            (code.to_owned(), cells[1].to_owned(), cells[2].to_owned())
        })
        .collect()
}

/// Every code with its status, from the samples of the rejections and the server's own codes.
fn every_code() -> BTreeMap<String, u16> {
    let rejections = rejection_samples()
        .iter()
        .map(|rejection| (rejection.code().to_owned(), status_for_rejection(rejection)))
        .collect::<Vec<_>>();
    let server = ServerCode::ALL.iter().map(|code| (code.code().to_owned(), code.status()));
    rejections.into_iter().chain(server).collect()
}

#[test]
fn the_readme_documents_every_code_once_with_its_status() {
    let rows = documented_rows();
    let every = every_code();
    let documented: Vec<&str> = rows.iter().map(|(code, _, _)| code.as_str()).collect();
    let missing: Vec<&String> = every.keys().filter(|code| !documented.contains(&code.as_str())).collect();
    assert!(missing.is_empty(), "codes the README's table lacks: {missing:?}");
    let unknown: Vec<&str> = documented.iter().copied().filter(|code| !every.contains_key(*code)).collect();
    assert!(unknown.is_empty(), "codes in the README's table that the server never answers: {unknown:?}");
    assert_eq!(documented.len(), every.len(), "a code documented twice");
    for (code, status, when) in &rows {
        assert!(!when.is_empty(), "{code} says when it is answered");
        match status.parse::<u16>() {
            Ok(status) => assert_eq!(status, every[code], "the README's status of {code}"),
            Err(_) => assert!(STATUS_OF_THE_CAUSE.contains(&code.as_str()), "{code}'s status is a number: {status}"),
        }
    }
}
