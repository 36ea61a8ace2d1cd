//! Message payloads: any JSON value as canonical text, or bytes.
//!
//! Commands are decoded from JSON only, but the state is encoded with postcard, which cannot decode a
//! value whose shape it is not told in advance. So a JSON payload is captured, while the command is
//! decoded, into [`JsonText`]: canonical JSON text (no insignificant white space, members in the order
//! given, strings re-escaped). Stored messages keep it as [`Payload::Json`], a plain string that every
//! format can carry.

use std::fmt;

use base64::Engine as _;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Any JSON value, held as canonical JSON text.
///
/// In a human-readable format (JSON) it deserializes from any value and serializes back as that same
/// value (not as a string), so a command round-trips through JSON unchanged. In binary formats it is
/// the text as a string. Numbers keep their JSON meaning: integers as integers, other numbers as the
/// shortest text that reads back as the same `f64`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JsonText(String);

impl JsonText {
    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The canonical text, owned.
    pub fn into_string(self) -> String {
        self.0
    }

    /// The JSON string whose content is `text` (for tests and builders; commands arrive through
    /// `Deserialize`).
    pub fn string(text: &str) -> JsonText {
        let mut out = String::with_capacity(text.len() + 2);
        write_string(&mut out, text);
        JsonText(out)
    }

    /// Parses `text` as JSON and keeps its canonical form; `None` when it is not exactly one JSON
    /// value within the payload rules (see [`JsonText::check`]). Used by tests and builders;
    /// commands arrive through `Deserialize`.
    pub fn parse(text: &str) -> Option<JsonText> {
        let value = parse_value(text).ok()?;
        let mut out = String::new();
        value.write(&mut out);
        Some(JsonText(out))
    }

    /// Checks that `text` is exactly one JSON value within the payload rules, without keeping it:
    /// no duplicate keys in an object, no lone surrogates, numbers that are integers within 64 bits
    /// or other numbers below 2^63 in magnitude, nesting at most `PAYLOAD_NESTING_MAX`. Ephemeral
    /// payloads are kept byte for byte but must pass the same rules as durable ones, which are held
    /// in this canonical form.
    pub fn check(text: &str) -> Result<(), String> {
        parse_value(text).map(|_| ())
    }
}

/// Why a number may not be in a payload, if it may not: an integer written without a fraction or an
/// exponent must fit in 64 bits (signed or unsigned), any other number must be below 2^63 in
/// magnitude. Beyond that a JSON reader would silently round an integer to a float, so a receiver
/// would see another number than the sender wrote; such numbers travel as strings instead.
pub(crate) fn number_problem(text: &str) -> Option<&'static str> {
    let integer = !text.bytes().any(|byte| matches!(byte, b'.' | b'e' | b'E'));
    if integer {
        let fits = text.parse::<u64>().is_ok() || text.parse::<i64>().is_ok();
        return (!fits).then_some("an integer must fit in 64 bits; send larger ones as strings");
    }
    match text.parse::<f64>() {
        Ok(value) => float_problem(value),
        Err(_) => Some("is not a number"),
    }
}

/// [`number_problem`] for a number already read as a float (serde's path for everything that is not
/// a 64-bit integer).
fn float_problem(value: f64) -> Option<&'static str> {
    const TWO_TO_THE_63: f64 = 9_223_372_036_854_775_808.0;
    if !value.is_finite() {
        return Some("a number must be finite");
    }
    (value.abs() >= TWO_TO_THE_63).then_some("a number must be below 2^63 in magnitude; send larger ones as strings")
}

/// How deep `text` (canonical JSON) nests arrays and objects.
pub fn nesting_depth(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

fn parse_value(text: &str) -> Result<Value<'_>, String> {
    let mut parser = Parser { bytes: text.as_bytes(), position: 0, problem: None, nesting_max: NESTING_MAX };
    let value = parser.value(0);
    parser.skip_white_space();
    match value {
        Some(value) if parser.position == parser.bytes.len() => Ok(value),
        Some(_) => Err(format!("not one JSON value: text follows at byte {}", parser.position)),
        None => Err(parser.problem.map_or_else(
            || format!("not valid JSON at byte {}", parser.position),
            |problem| format!("{problem} (at byte {})", parser.position),
        )),
    }
}

impl fmt::Display for JsonText {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// Appends `text` as a JSON string: quotes, backslashes and control characters escaped, everything
/// else as UTF-8.
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            control if u32::from(control) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(control))),
            other => out.push(other),
        }
    }
    out.push('"');
}

/// Appends a float the way JSON reads it back: Rust's shortest round-trip form (`0.1`, `1e300`,
/// `-0.0`), which is pure Rust and so the same on every machine.
fn write_float(out: &mut String, value: f64) {
    out.push_str(&format!("{value:?}"));
}

struct JsonTextVisitor;

impl<'de> Visitor<'de> for JsonTextVisitor {
    type Value = JsonText;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<JsonText, E> {
        Ok(JsonText("null".to_owned()))
    }

    fn visit_none<E: de::Error>(self) -> Result<JsonText, E> {
        Ok(JsonText("null".to_owned()))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<JsonText, D::Error> {
        deserializer.deserialize_any(JsonTextVisitor)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<JsonText, E> {
        Ok(JsonText(if value { "true" } else { "false" }.to_owned()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<JsonText, E> {
        Ok(JsonText(value.to_string()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<JsonText, E> {
        Ok(JsonText(value.to_string()))
    }

    fn visit_i128<E: de::Error>(self, value: i128) -> Result<JsonText, E> {
        let text = value.to_string();
        number_problem(&text).map_or(Ok(JsonText(text)), |problem| Err(E::custom(problem)))
    }

    fn visit_u128<E: de::Error>(self, value: u128) -> Result<JsonText, E> {
        let text = value.to_string();
        number_problem(&text).map_or(Ok(JsonText(text)), |problem| Err(E::custom(problem)))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<JsonText, E> {
        if let Some(problem) = float_problem(value) {
            return Err(E::custom(problem));
        }
        let mut out = String::new();
        write_float(&mut out, value);
        Ok(JsonText(out))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<JsonText, E> {
        Ok(JsonText::string(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<JsonText, A::Error> {
        let mut out = String::from("[");
        let mut first = true;
        while let Some(element) = sequence.next_element::<JsonText>()? {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&element.0);
        }
        out.push(']');
        Ok(JsonText(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonText, A::Error> {
        let mut out = String::from("{");
        let mut first = true;
        // A repeated key would keep one value and silently lose the other; readers disagree on which.
        let mut keys = std::collections::BTreeSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate key {key:?} in an object")));
            }
            let value = map.next_value::<JsonText>()?;
            if !first {
                out.push(',');
            }
            first = false;
            write_string(&mut out, &key);
            out.push(':');
            out.push_str(&value.0);
        }
        out.push('}');
        Ok(JsonText(out))
    }
}

impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_any(JsonTextVisitor)
        } else {
            String::deserialize(deserializer).map(JsonText)
        }
    }
}

impl Serialize for JsonText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !serializer.is_human_readable() {
            return serializer.serialize_str(&self.0);
        }
        // The text is canonical JSON built by this module, so it always parses; serde's own recursion
        // limit (128) bounds how deep it can be, whatever the payload rules say.
        let mut parser = Parser { bytes: self.0.as_bytes(), position: 0, problem: None, nesting_max: 256 };
        let value = parser.value(0).expect("JsonText holds valid JSON");
        value.serialize(serializer)
    }
}

/// How deep JSON text may nest when this module parses it.
const NESTING_MAX: usize = crate::limits::PAYLOAD_NESTING_MAX;

/// A parsed JSON value, only ever short-lived: to serialize a [`JsonText`] structurally.
enum Value<'a> {
    Null,
    Bool(bool),
    /// A number as written: an integer when it has no fraction or exponent.
    Number(&'a str),
    String(String),
    Array(Vec<Value<'a>>),
    Object(Vec<(String, Value<'a>)>),
}

impl Value<'_> {
    fn write(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
            Value::Number(text) => match number(text) {
                Number::Unsigned(value) => out.push_str(&value.to_string()),
                Number::Signed(value) => out.push_str(&value.to_string()),
                Number::Float(value) => write_float(out, value),
            },
            Value::String(text) => write_string(out, text),
            Value::Array(elements) => {
                out.push('[');
                for (index, element) in elements.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    element.write(out);
                }
                out.push(']');
            }
            Value::Object(members) => {
                out.push('{');
                for (index, (key, value)) in members.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    write_string(out, key);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

enum Number {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
}

fn number(text: &str) -> Number {
    // `-0` is a float in JSON parsers (serde_json reads it as -0.0); reading it as the integer 0
    // would give the same payload two canonical forms.
    if text.starts_with('-') && text[1..].bytes().all(|byte| byte == b'0') {
        return Number::Float(-0.0);
    }
    if let Ok(value) = text.parse::<u64>() {
        Number::Unsigned(value)
    } else if let Ok(value) = text.parse::<i64>() {
        Number::Signed(value)
    } else {
        Number::Float(text.parse::<f64>().unwrap_or(0.0))
    }
}

impl Serialize for Value<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(value) => serializer.serialize_bool(*value),
            Value::Number(text) => match number(text) {
                Number::Unsigned(value) => serializer.serialize_u64(value),
                Number::Signed(value) => serializer.serialize_i64(value),
                Number::Float(value) => serializer.serialize_f64(value),
            },
            Value::String(text) => serializer.serialize_str(text),
            Value::Array(elements) => {
                let mut sequence = serializer.serialize_seq(Some(elements.len()))?;
                for element in elements {
                    sequence.serialize_element(element)?;
                }
                sequence.end()
            }
            Value::Object(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (key, value) in members {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

/// A small strict JSON parser (RFC 8259), for [`JsonText::parse`] and for serializing canonical text.
struct Parser<'a> {
    bytes: &'a [u8],
    position: usize,
    /// Why parsing stopped, when a payload rule (rather than JSON syntax) refused the text.
    problem: Option<&'static str>,
    /// Levels of arrays and objects allowed.
    nesting_max: usize,
}

impl<'a> Parser<'a> {
    fn skip_white_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.position) {
            self.position += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_white_space();
        if self.bytes.get(self.position) == Some(&byte) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    fn keyword(&mut self, word: &str) -> Option<()> {
        let end = self.position + word.len();
        (self.bytes.get(self.position..end) == Some(word.as_bytes())).then(|| self.position = end)
    }

    fn value(&mut self, depth: usize) -> Option<Value<'a>> {
        self.skip_white_space();
        if depth >= self.nesting_max && matches!(self.bytes.get(self.position), Some(b'[' | b'{')) {
            self.problem = Some("nested deeper than PAYLOAD_NESTING_MAX");
            return None;
        }
        match *self.bytes.get(self.position)? {
            b'n' => self.keyword("null").map(|()| Value::Null),
            b't' => self.keyword("true").map(|()| Value::Bool(true)),
            b'f' => self.keyword("false").map(|()| Value::Bool(false)),
            b'"' => self.string().map(Value::String),
            b'[' => {
                self.position += 1;
                let mut elements = Vec::new();
                if self.eat(b']') {
                    return Some(Value::Array(elements));
                }
                loop {
                    elements.push(self.value(depth + 1)?);
                    if self.eat(b']') {
                        return Some(Value::Array(elements));
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            b'{' => {
                self.position += 1;
                let mut members = Vec::new();
                // Keys seen, to refuse a repeat in O(log n): a 64 KiB object holds ~10,000 keys.
                let mut keys = std::collections::BTreeSet::new();
                if self.eat(b'}') {
                    return Some(Value::Object(members));
                }
                loop {
                    self.skip_white_space();
                    let key = self.string()?;
                    if !self.eat(b':') {
                        return None;
                    }
                    if !keys.insert(key.clone()) {
                        self.problem = Some("a key appears twice in one object");
                        return None;
                    }
                    members.push((key, self.value(depth + 1)?));
                    if self.eat(b'}') {
                        return Some(Value::Object(members));
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            _ => self.number(),
        }
    }

    fn number(&mut self) -> Option<Value<'a>> {
        let start = self.position;
        let digits = |parser: &mut Parser<'_>| {
            let from = parser.position;
            while parser.bytes.get(parser.position).is_some_and(u8::is_ascii_digit) {
                parser.position += 1;
            }
            parser.position > from
        };
        if self.bytes.get(self.position) == Some(&b'-') {
            self.position += 1;
        }
        if self.bytes.get(self.position) == Some(&b'0') {
            self.position += 1;
        } else if !digits(self) {
            return None;
        }
        if self.bytes.get(self.position) == Some(&b'.') {
            self.position += 1;
            if !digits(self) {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.position) {
            self.position += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.position) {
                self.position += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        let text = std::str::from_utf8(&self.bytes[start..self.position]).ok()?;
        if let Some(problem) = number_problem(text) {
            self.problem = Some(problem);
            return None;
        }
        Some(Value::Number(text))
    }

    fn hex4(&mut self) -> Option<u32> {
        let text = std::str::from_utf8(self.bytes.get(self.position..self.position + 4)?).ok()?;
        self.position += 4;
        u32::from_str_radix(text, 16).ok()
    }

    fn string(&mut self) -> Option<String> {
        if self.bytes.get(self.position) != Some(&b'"') {
            return None;
        }
        self.position += 1;
        let mut out = Vec::new();
        loop {
            let byte = *self.bytes.get(self.position)?;
            self.position += 1;
            match byte {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let escape = *self.bytes.get(self.position)?;
                    self.position += 1;
                    let character = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{08}',
                        b'f' => '\u{0c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let high = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&high) {
                                if self.bytes.get(self.position..self.position + 2) != Some(b"\\u") {
                                    return None;
                                }
                                self.position += 2;
                                let low = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&low) {
                                    return None;
                                }
                                0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00)
                            } else {
                                high
                            };
                            char::from_u32(code)?
                        }
                        _ => return None,
                    };
                    let mut buffer = [0u8; 4];
                    out.extend_from_slice(character.encode_utf8(&mut buffer).as_bytes());
                }
                control if control < 0x20 => return None,
                other => out.push(other),
            }
        }
    }
}

/// A stored message's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    /// A JSON value, as canonical JSON text.
    Json(String),
    /// Bytes (sent as base64; ciphertext when the message is encrypted to an agent).
    Bytes(Vec<u8>),
}

impl Payload {
    /// Its size in bytes: the canonical text's, or the bytes'.
    pub fn len(&self) -> usize {
        match self {
            Payload::Json(text) => text.len(),
            Payload::Bytes(bytes) => bytes.len(),
        }
    }

    /// Whether it is empty (never for JSON, whose shortest text is one digit).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Decodes standard base64 (with padding, RFC 4648 section 4).
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD.decode(text).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_gives_canonical_text() {
        let text = JsonText::parse(" { \"b\" : [1, -2, 3.5e0, true, null], \"a\": \"x\\u00e9\\n\\\"\" } ").unwrap();
        assert_eq!(text.as_str(), "{\"b\":[1,-2,3.5,true,null],\"a\":\"x\u{e9}\\n\\\"\"}");
        assert_eq!(JsonText::parse("\"\\ud83d\\ude00\"").unwrap().as_str(), "\"\u{1f600}\"");
        assert_eq!(JsonText::parse("1e18").unwrap().as_str(), "1e18");
        for bad in ["", "{", "[1,]", "01", "1.", "\"\\x\"", "nul", "1 2", "\"\u{1}\"", "1e999"] {
            assert!(JsonText::parse(bad).is_none(), "{bad:?} is not JSON");
        }
        let deep = "[".repeat(NESTING_MAX + 2) + &"]".repeat(NESTING_MAX + 2);
        assert!(JsonText::parse(&deep).is_none(), "nesting is bounded");
    }

    #[test]
    fn payload_rules_refuse_what_a_reader_would_silently_change() {
        let refused = [
            ("{\"a\":1,\"a\":2}", "twice"),
            ("{\"x\":{\"b\":1, \"b\" :1}}", "twice"),
            ("123456789012345678901234567890", "64 bits"),
            ("18446744073709551616", "64 bits"),
            ("-9223372036854775809", "64 bits"),
            ("1e19", "2^63"),
            ("-1.5e300", "2^63"),
            ("1e400", "finite"),
            ("\"\\ud800\"", "byte"),
            ("\"\\udc00x\"", "byte"),
        ];
        for (text, reason) in refused {
            let problem = JsonText::check(text).expect_err(text);
            assert!(problem.contains(reason), "{text}: {problem}");
        }
        for kept in
            ["18446744073709551615", "-9223372036854775808", "9223372036854775807", "1.5e18", "-0", "{\"a\":{\"a\":1}}"]
        {
            assert!(JsonText::check(kept).is_ok(), "{kept}");
        }
        assert_eq!(JsonText::parse("18446744073709551615").unwrap().as_str(), "18446744073709551615", "exact");
        let nested = |levels: usize| "[".repeat(levels) + &"]".repeat(levels);
        assert!(JsonText::check(&nested(crate::limits::PAYLOAD_NESTING_MAX)).is_ok());
        assert!(JsonText::check(&nested(crate::limits::PAYLOAD_NESTING_MAX + 1)).unwrap_err().contains("deeper"));
        assert_eq!(nesting_depth("[{\"a\":\"[[[\\\"\"},[1]]"), 2, "brackets in strings do not count");
    }

    #[test]
    fn base64_decodes_standard_text_only() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert!(decode_base64("aGVsbG8").is_err(), "padding is required");
        assert!(decode_base64("a$==").is_err());
    }
}
