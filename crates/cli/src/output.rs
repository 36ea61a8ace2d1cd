//! Output helpers: aligned tables for people, JSON for programs.

/// Prints rows as a table with a header, each column as wide as its widest cell.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|cell| cell.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> =
            cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}", width = *width)).collect();
        println!("  {}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    line(widths.iter().map(|width| "─".repeat(*width)).collect::<Vec<_>>().iter().map(String::as_str).collect());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// A name given on the command line, or an error that says which (`what`: "lock", "--lease").
pub fn name(text: &str, what: &str) -> Result<colony_core::Name, String> {
    colony_core::Name::new(text).map_err(|error| format!("{what} '{text}': {error}"))
}

/// Prints a value as pretty JSON.
pub fn print_json<T: serde::Serialize>(value: &T) {
    println!("{}", serde_json::to_string_pretty(value).expect("output encodes"));
}

/// Prints what a write did: the response as JSON for programs, or for people one line with the first
/// command's status, what it names (`detail`: "proposal 3", "escrow 7"), and the receipt (the entry and
/// the chain hash to check it against later).
pub fn print_submitted(response: &colony_wire::views::SubmitResponse, json: bool, detail: Option<String>) {
    if json {
        return print_json(response);
    }
    let status = response.results.first().and_then(|result| result.status.as_deref()).unwrap_or("done");
    match detail {
        Some(detail) => {
            println!("{status}: {detail} (entry {}, chain hash {})", response.sequence, response.chain_hash)
        }
        None => println!("{status} (entry {}, chain hash {})", response.sequence, response.chain_hash),
    }
}

/// A list read's query string from its parameters, leaving out those not given.
pub fn query_string(parameters: &[(&str, Option<String>)]) -> String {
    let given = parameters.iter().filter_map(|(key, value)| value.as_ref().map(|value| format!("{key}={value}")));
    given.collect::<Vec<_>>().join("&")
}

/// Formats a rate with thousands separators.
pub fn thousands(value: u64) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len() + text.len() / 3);
    for (index, character) in text.chars().enumerate() {
        if index > 0 && (text.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(character);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
