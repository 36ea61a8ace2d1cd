//! A message as a Colony task: where its terms are, what its payload is, and which id makes a
//! retried message find the task it announced.
//!
//! The terms (`kind`, `max_cost`, `deadline_ms`, `required_capabilities`, `bid_window_ms`, or any
//! other field of `task.announce`) are the first data part that is an object with a `kind`, or else
//! the message's metadata, or else the request's. The payload is the terms' own `payload` if they
//! have one; else the message's other data part, or its text (as a JSON string). The manager's task
//! id is the terms' `task_id` if given, else the message id.

use colony_core::command::AnnounceTask;
use serde_json::{Map, Value};

use super::protocol::{Part, SendMessageParams};
use super::rpc::RpcError;

/// Where the terms were found.
enum TermsSource {
    /// The data part at this index of the message's parts.
    DataPart(usize),
    /// The message's or the request's metadata.
    Metadata,
}

/// The `task.announce` a message asks for.
pub fn announce_from(request: &SendMessageParams) -> Result<AnnounceTask, RpcError> {
    let message = &request.message;
    if message.parts.iter().any(|part| part.raw.is_some() || part.url.is_some()) {
        return Err(invalid("only text and data parts are taken: a Colony task's input is JSON"));
    }
    let (mut terms, source) = find_terms(request)
        .ok_or_else(|| invalid("no task terms: give a data part (or metadata) with kind, max_cost and deadline_ms"))?;
    for (field, value) in terms.iter_mut() {
        if field != "payload" {
            whole_numbers_as_integers(value);
        }
    }
    if !terms.contains_key("payload") {
        let payload = match source {
            TermsSource::DataPart(index) => other_data(&message.parts, Some(index)),
            TermsSource::Metadata => other_data(&message.parts, None),
        }
        .or_else(|| text_of(&message.parts).map(Value::String));
        if let Some(payload) = payload {
            terms.insert("payload".to_owned(), payload);
        }
    }
    if !terms.contains_key("task_id") {
        terms.insert("task_id".to_owned(), Value::String(message.message_id.clone()));
    }
    // Amounts are strings of minor units in Colony; a client may well write a number.
    if let Some(Value::Number(number)) = terms.get("max_cost") {
        let text = number.to_string();
        terms.insert("max_cost".to_owned(), Value::String(text));
    }
    serde_json::from_value(Value::Object(terms)).map_err(|error| invalid(&format!("the task's terms: {error}")))
}

/// Whole numbers written as floating point (`600000.0`) as integers. A2A carries data parts as
/// protocol buffers' `Value`, whose numbers are doubles, so an SDK sends every integer term that way.
fn whole_numbers_as_integers(value: &mut Value) {
    match value {
        Value::Number(number) => {
            let whole = number.as_f64().filter(|float| float.fract() == 0.0 && *float >= 0.0 && *float < 2f64.powi(53));
            if let (None, Some(whole)) = (number.as_u64(), whole) {
                // Below 2^53 a double holds every integer exactly, so the cast loses nothing.
                *value = Value::from(whole as u64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(members) => members.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

fn invalid(message: &str) -> RpcError {
    RpcError::new(RpcError::INVALID_PARAMS, message)
}

/// The terms and where they were.
fn find_terms(request: &SendMessageParams) -> Option<(Map<String, Value>, TermsSource)> {
    let in_part = request.message.parts.iter().enumerate().find_map(|(index, part)| match &part.data {
        Some(Value::Object(object)) if object.contains_key("kind") => {
            Some((object.clone(), TermsSource::DataPart(index)))
        }
        _ => None,
    });
    let in_metadata = || {
        [&request.message.metadata, &request.metadata].into_iter().find_map(|metadata| match metadata {
            Some(Value::Object(object)) if object.contains_key("kind") => Some((object.clone(), TermsSource::Metadata)),
            _ => None,
        })
    };
    in_part.or_else(in_metadata)
}

/// The first data part other than the terms' own.
fn other_data(parts: &[Part], terms_index: Option<usize>) -> Option<Value> {
    parts.iter().enumerate().filter(|(index, _)| Some(*index) != terms_index).find_map(|(_, part)| part.data.clone())
}

/// The message's text parts, joined by new lines.
fn text_of(parts: &[Part]) -> Option<String> {
    let texts: Vec<&str> = parts.iter().filter_map(|part| part.text.as_deref()).collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(message: Value) -> SendMessageParams {
        serde_json::from_value(json!({ "message": message })).expect("a valid request")
    }

    #[test]
    fn the_data_part_carries_the_terms_and_the_text_is_the_payload() {
        let announce = announce_from(&request(json!({
            "messageId": "3f2a9c1e-0b7d-4e5f-9a8b-1c2d3e4f5a6b",
            "role": "ROLE_USER",
            "parts": [
                { "text": "scan ETH/USDC" },
                { "data": { "kind": "analyze", "max_cost": 1000.0, "deadline_ms": 60000.0,
                            "required_capabilities": ["dex.scan"], "bid_window_ms": 5000 } },
            ],
        })))
        .expect("the terms are complete");
        assert_eq!(announce.task_id.as_str(), "3f2a9c1e-0b7d-4e5f-9a8b-1c2d3e4f5a6b");
        assert_eq!((announce.kind.as_str(), announce.max_cost.0, announce.deadline_ms), ("analyze", 1000, 60_000));
        assert_eq!(announce.bid_window_ms, 5_000);
        assert_eq!(announce.payload.expect("a payload").as_str(), r#""scan ETH/USDC""#);
        let capabilities: Vec<&str> = announce.required_capabilities.iter().map(|name| name.as_str()).collect();
        assert_eq!(capabilities, ["dex.scan"]);
    }

    #[test]
    fn terms_in_metadata_take_the_data_part_as_payload_and_may_name_the_task() {
        let announce = announce_from(&request(json!({
            "messageId": "m-1",
            "role": "ROLE_USER",
            "parts": [{ "data": { "pair": "ETH/USDC" } }],
            "metadata": { "kind": "analyze", "max_cost": "50", "deadline_ms": 1000, "task_id": "scan-eth" },
        })))
        .expect("the terms are complete");
        assert_eq!(announce.task_id.as_str(), "scan-eth");
        assert_eq!(announce.payload.expect("a payload").as_str(), r#"{"pair":"ETH/USDC"}"#);
    }

    #[test]
    fn a_message_without_terms_or_with_bad_ones_is_refused_as_invalid_params() {
        let refusals = [
            json!({ "messageId": "m-1", "role": "ROLE_USER", "parts": [{ "text": "do it" }] }),
            json!({ "messageId": "m-1", "role": "ROLE_USER",
                    "parts": [{ "data": { "kind": "analyze", "deadline_ms": 1000 } }] }),
            json!({ "messageId": "m-1", "role": "ROLE_USER",
                    "parts": [{ "data": { "kind": "analyze", "max_cost": "5", "deadline_ms": 1, "colour": "red" } }] }),
            json!({ "messageId": "Not A Name", "role": "ROLE_USER",
                    "parts": [{ "data": { "kind": "analyze", "max_cost": "5", "deadline_ms": 1 } }] }),
            json!({ "messageId": "m-1", "role": "ROLE_USER",
                    "parts": [{ "url": "https://example.org/x" }, { "data": { "kind": "a", "max_cost": "5", "deadline_ms": 1 } }] }),
        ];
        for message in refusals {
            let error = announce_from(&request(message.clone())).expect_err("refused");
            assert_eq!(error.code, RpcError::INVALID_PARAMS, "{message}: {}", error.message);
        }
    }
}
