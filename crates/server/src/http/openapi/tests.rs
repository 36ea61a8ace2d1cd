use std::collections::BTreeSet;

use colony_wire::problem::ServerCode;

use super::*;

#[test]
fn every_route_is_documented_and_nothing_else() {
    let document = document();
    let paths = document["paths"].as_object().unwrap();
    let mut documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, operations)| {
            operations.as_object().unwrap().keys().map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    let mut routes: Vec<(String, String)> =
        crate::http::ROUTES.iter().map(|(method, path)| ((*method).to_owned(), (*path).to_owned())).collect();
    documented.sort();
    routes.sort();
    assert_eq!(documented, routes);
}

#[test]
fn every_command_and_event_is_documented_and_nothing_else() {
    let document = document();
    let mut documented: Vec<&str> = document["components"]["schemas"]["Command"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|schema| schema["properties"]["type"]["const"].as_str().unwrap())
        .collect();
    let mut kinds = colony_core::Command::KINDS.to_vec();
    documented.sort_unstable();
    kinds.sort_unstable();
    assert_eq!(documented, kinds, "the commands the document describes");
    let mut events: Vec<&str> = document["components"]["schemas"]["Event"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|schema| schema["properties"]["type"]["const"].as_str().unwrap())
        .collect();
    let mut names = colony_core::EventKind::NAMES.to_vec();
    events.sort_unstable();
    names.sort_unstable();
    assert_eq!(events, names, "the events the document lists");
}

/// Every `$ref` in `value`.
fn references(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref") {
                found.insert(reference.clone());
            }
            object.values().for_each(|value| references(value, found));
        }
        Value::Array(items) => items.iter().for_each(|value| references(value, found)),
        _ => {}
    }
}

#[test]
fn every_reference_names_a_schema_of_the_document() {
    let document = document();
    let mut found = BTreeSet::new();
    references(&document, &mut found);
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for reference in &found {
        let name =
            reference.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{reference} points elsewhere"));
        assert!(schemas.contains_key(name), "{reference} names no schema");
    }
    assert!(found.contains("#/components/schemas/AgentId"), "derived schemas are referred to");
}

#[test]
fn command_schemas_carry_core_limits_and_refuse_unknown_fields() {
    let document = document();
    let commands = document["components"]["schemas"]["Command"]["oneOf"].as_array().unwrap();
    let command =
        |kind: &str| commands.iter().find(|schema| schema["properties"]["type"]["const"] == kind).unwrap().clone();
    for schema in commands {
        assert_eq!(schema["additionalProperties"], false, "{}", schema["properties"]["type"]);
        assert!(
            schema["description"].as_str().is_some_and(|text| !text.is_empty()),
            "{}",
            schema["properties"]["type"]
        );
    }
    let create = command("consumer.create");
    assert_eq!(create["properties"]["ack_wait_ms"]["minimum"], colony_core::limits::ACK_WAIT_MS_MIN);
    assert_eq!(create["properties"]["ack_wait_ms"]["maximum"], colony_core::limits::ACK_WAIT_MS_MAX);
    assert_eq!(create["properties"]["ack_wait_ms"]["default"], colony_core::limits::ACK_WAIT_MS_DEFAULT);
    assert_eq!(create["required"], json!(["type", "stream", "name"]));
    assert_eq!(
        command("ledger.transfer_batch")["properties"]["transfers"]["maxItems"],
        colony_core::limits::TRANSFERS_PER_BATCH_MAX
    );
    assert_eq!(command("agent.halt")["properties"]["reason"]["maxLength"], colony_core::limits::REASON_BYTES_MAX);
    let envelope = &document["components"]["schemas"]["Envelope"];
    assert_eq!(envelope["properties"]["commands"]["maxItems"], colony_core::limits::COMMANDS_PER_ENVELOPE_MAX);
    // Integer widths are bounds, not formats OpenAPI does not define.
    assert_eq!(command("consumer.fetch")["properties"]["max_bytes"]["maximum"], u64::MAX);
    assert!(!document.to_string().contains("\"format\":\"uint"));
}

/// The files the document is written in: every file of this folder but this one.
const SOURCES: &[(&str, &str)] = &[
    ("mod.rs", include_str!("mod.rs")),
    ("schemas.rs", include_str!("schemas.rs")),
    ("paths.rs", include_str!("paths.rs")),
    ("bus.rs", include_str!("bus.rs")),
    ("market.rs", include_str!("market.rs")),
    ("governance.rs", include_str!("governance.rs")),
    ("stigmergy.rs", include_str!("stigmergy.rs")),
    ("coordination.rs", include_str!("coordination.rs")),
    ("kv.rs", include_str!("kv.rs")),
    ("operations.rs", include_str!("operations.rs")),
];

/// Texts with digits that state no number of the API: the versions of the formats the document
/// follows, the number of the problem-document standard, and the digit ranges of patterns.
const NAMES_WITH_DIGITS: &[&str] = &["3.1.0", "0.0.4", "RFC 9457", "0-9", "1-9"];

/// The numbers written out in Rust `source` other than 0 and 1: numeric literals in the code, and
/// numbers in its string literals that are neither a name's digits (`uint8`, `Ed25519`, one of
/// [`NAMES_WITH_DIGITS`]) nor one of `statuses`. Comments are not part of the document and are
/// skipped. Each is reported with its line.
fn written_numbers(source: &str, statuses: &BTreeSet<String>) -> Vec<String> {
    let characters: Vec<char> = source.chars().collect();
    let line_of = |index: usize| characters[..index].iter().filter(|character| **character == '\n').count() + 1;
    let mut found = Vec::new();
    let mut index = 0;
    while index < characters.len() {
        let character = characters[index];
        let next = characters.get(index + 1).copied();
        if character == '/' && next == Some('/') {
            while index < characters.len() && characters[index] != '\n' {
                index += 1;
            }
        } else if character == '"' {
            let start = index + 1;
            index = start;
            while characters[index] != '"' {
                index += if characters[index] == '\\' { 2 } else { 1 };
            }
            let text: String = characters[start..index].iter().collect();
            found.extend(
                prose_numbers(&text, statuses)
                    .into_iter()
                    .map(|number| format!("line {}: {number:?} in {text:?}", line_of(start))),
            );
            index += 1;
        } else if character == '\'' && (next == Some('\\') || characters.get(index + 2) == Some(&'\'')) {
            index += if next == Some('\\') { 4 } else { 3 };
        } else if character.is_alphabetic() || character == '_' {
            while index < characters.len() && (characters[index].is_alphanumeric() || characters[index] == '_') {
                index += 1;
            }
        } else if character.is_ascii_digit() {
            let start = index;
            while index < characters.len() && (characters[index].is_alphanumeric() || characters[index] == '_') {
                index += 1;
            }
            let literal: String = characters[start..index].iter().collect();
            let digits: String =
                literal.chars().take_while(|character| character.is_ascii_digit() || *character == '_').collect();
            if digits != "0" && digits != "1" {
                found.push(format!("line {}: {literal}", line_of(start)));
            }
        } else {
            index += 1;
        }
    }
    found
}

/// The numbers a string literal states: runs of digits not inside a word or a known name, other
/// than 0, 1 and the statuses.
fn prose_numbers(text: &str, statuses: &BTreeSet<String>) -> Vec<String> {
    if statuses.contains(text) {
        return Vec::new();
    }
    let mut text = text.to_owned();
    for name in NAMES_WITH_DIGITS {
        text = text.replace(name, " ");
    }
    let characters: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut index = 0;
    while index < characters.len() {
        if !characters[index].is_ascii_digit() {
            index += 1;
            continue;
        }
        let start = index;
        while index < characters.len() && characters[index].is_ascii_digit() {
            index += 1;
        }
        let in_word = (start > 0 && characters[start - 1].is_alphabetic())
            || characters.get(index).is_some_and(|character| character.is_alphabetic());
        let run: String = characters[start..index].iter().collect();
        if !in_word && run != "0" && run != "1" && !statuses.contains(&run) {
            found.push(run);
        }
    }
    found
}

/// Every status the document answers with.
fn statuses(document: &Value) -> BTreeSet<String> {
    let mut statuses = BTreeSet::new();
    for operations in document["paths"].as_object().unwrap().values() {
        for operation in operations.as_object().unwrap().values() {
            statuses.extend(operation["responses"].as_object().unwrap().keys().cloned());
        }
    }
    statuses
}

#[test]
fn no_number_is_written_out_in_the_document_sources() {
    let statuses = statuses(&document());
    let found: Vec<String> = SOURCES
        .iter()
        .flat_map(|(file, source)| {
            written_numbers(source, &statuses).into_iter().map(move |number| format!("{file} {number}"))
        })
        .collect();
    assert!(found.is_empty(), "numbers written out instead of named by a constant:\n{}", found.join("\n"));
}

#[test]
fn the_sources_scanned_are_every_file_of_the_document() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/openapi");
    let mut files: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|file| file != "tests.rs")
        .collect();
    let mut scanned: Vec<String> = SOURCES.iter().map(|(file, _)| (*file).to_owned()).collect();
    files.sort();
    scanned.sort();
    assert_eq!(files, scanned);
}

#[test]
fn the_scan_finds_numbers_in_code_and_prose_and_passes_names_and_statuses() {
    let statuses: BTreeSet<String> = ["404".to_owned()].into();
    let source = r#"json!({ "maxItems": 32, "limit": 1_000u64, "minimum": 1, "from": 0 }) // 99 in a comment
        let text = "Up to 10,000 commands, 64 KiB; Ed25519 and uint8 are names; answered with 404";
        let status = "404"; let range = "[0-9]{0,18}"; let version = "3.1.0"; let letter = 'x';"#;
    let found = written_numbers(source, &statuses);
    assert_eq!(found.len(), 6, "{found:#?}");
    for number in [": 32", ": 1_000u64", ": \"10\" in", ": \"000\" in", ": \"64\" in", ": \"18\" in"] {
        assert!(found.iter().any(|entry| entry.contains(number)), "{number} in {found:#?}");
    }
}

#[test]
fn the_problem_schema_lists_every_code_and_the_document_answers_with_its_status() {
    let document = document();
    let code = &document["components"]["schemas"]["Problem"]["properties"]["code"];
    assert_eq!(code["type"], "string");
    assert!(code["description"].as_str().is_some_and(|description| description.contains("never renamed")), "{code}");
    let listed: BTreeSet<&str> = code["enum"].as_array().unwrap().iter().map(|code| code.as_str().unwrap()).collect();
    let samples = colony_core::rejection_samples::rejection_samples();
    let every: Vec<(&str, u16)> = samples
        .iter()
        .map(|rejection| (rejection.code(), colony_wire::problem::status_for_rejection(rejection)))
        .chain(ServerCode::ALL.iter().map(|code| (code.code(), code.status())))
        .collect();
    assert_eq!(listed, every.iter().map(|(code, _)| *code).collect(), "the codes the Problem schema lists");
    // A method the document has no operation for is answered with 405 `method_not_allowed`, so no
    // operation lists it.
    let outside_operations = [ServerCode::MethodNotAllowed.code()];
    let statuses = statuses(&document);
    let unanswered: Vec<&(&str, u16)> = every
        .iter()
        .filter(|(code, status)| !statuses.contains(&status.to_string()) && !outside_operations.contains(code))
        .collect();
    assert!(unanswered.is_empty(), "codes whose status no operation answers with: {unanswered:?}");
}
